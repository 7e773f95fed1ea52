"""Webhooks: canonical events POSTed to the URLs new applications register.

``store`` keeps registrations, per-webhook log positions and the delivery log (SQLite);
``signing`` signs bodies the Standard Webhooks way; ``retry`` spaces attempts; ``guard`` keeps
deliveries off internal addresses; ``dispatcher`` reads the log and delivers (``bus webhooks
run``). The registration API is ``bus.web.webhooks``.
"""
