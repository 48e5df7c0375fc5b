"""Quality of the content: messages that name file, line, need and fix (messages.py), the
coverage state of every requirement (coverage.py) and suspect links (review.py)."""
