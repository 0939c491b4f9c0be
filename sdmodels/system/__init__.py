"""System descriptions: an architecture written as components and calls (YAML), validated
against a schema whose field names follow Kubernetes, resilience4j and HikariCP; and their
analysis (`analyze`: loops, checklist, dangerous combinations, fixes)."""
from sdmodels.system.description import (Component, Connection, Problem, SystemDescriptionError,
                                         SystemSpec, load_system)
from sdmodels.system.analyze import Analysis, analyze   # binds the function over the module

__all__ = ["Analysis", "Component", "Connection", "Problem", "SystemDescriptionError",
           "SystemSpec", "analyze", "load_system"]
