"""Views generated from the needs and the model: the model page, the tag pages, the browse
page and the crosswalk's pages."""
