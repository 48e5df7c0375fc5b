"""What the build publishes beside the pages: the interchange, the audit export, and the
lists of those files on the pages."""
