"""Source identification from chemical signatures: what kind of site each source is."""

from .attribute import UNKNOWN, Attribution, attribute
from .library import SignatureLibrary, SourceClass, default_library, load_library

__all__ = ["UNKNOWN", "Attribution", "attribute", "SignatureLibrary", "SourceClass", "default_library", "load_library"]
