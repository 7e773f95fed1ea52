"""The bus's own Confluent-compatible schema registry, stored in the compacted ``_schemas`` topic.

Entry points: ``create_registry_app`` (aiohttp app), ``serve_registry`` / ``run_registry``
(a process). Import them from their modules (``bus.registry.app``, ``bus.registry.server``);
this package module imports nothing so that importing it has no cost.
"""
