"""National data standards as code (GB 11643, GB/T 2260, GB/T 2261.1, dates, text).

Import from the submodules, e.g. ``from bus.standards.idcard import parse_identity_number``.
"""
