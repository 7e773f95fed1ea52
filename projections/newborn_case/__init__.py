"""``newborn_case``: the process manager of the cross-department newborn flow (一件事一次办)."""
