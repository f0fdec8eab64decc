"""Text to speech behind one interface; ``registry.get_engine()`` picks it from settings."""
