"""System descriptions: an architecture written as components and calls (YAML), validated
against a schema whose field names follow Kubernetes, resilience4j and HikariCP."""
from sdmodels.system.description import (Component, Connection, Problem, SystemDescriptionError,
                                         SystemSpec, load_system)

__all__ = ["Component", "Connection", "Problem", "SystemDescriptionError", "SystemSpec",
           "load_system"]
