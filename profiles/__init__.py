"""The shipped YAML profiles, installed as package data of ``anonymizer.builtin_profiles``."""
