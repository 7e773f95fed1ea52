"""Events new applications publish through the API: validated, standardized, idempotent."""
