"""Profiles: YAML files validated into models, merged along ``extends``, compiled to tables."""

from anonymizer.profiles.compile import CompiledProfile, compile_profile
from anonymizer.profiles.loader import Profile, builtin_profile_names, load_profile

__all__ = ["CompiledProfile", "Profile", "builtin_profile_names", "compile_profile", "load_profile"]
