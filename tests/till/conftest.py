from tests.panel.conftest import operator, purchase_at, signed_in  # noqa: F401 — the panel's operators, shared
