"""The clinical evidence page: docs/clinical-evidence.md, shipped in the package, as HTML."""
