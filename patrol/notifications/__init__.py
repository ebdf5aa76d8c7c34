"""Notifications' content: what each one carries and says (pure; ``content``)."""
