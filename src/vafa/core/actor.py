from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who is asking: an operator, an API key or the system itself, and from which address."""

    kind: str = "system"
    id: str = ""
    label: str = ""
    ip: str | None = None

    def fields(self) -> dict:
        return {"actor_kind": self.kind, "actor_id": self.id, "actor_label": self.label, "actor_ip": self.ip}


SYSTEM = Actor("system", "", "system")


def visitor(ip: str | None) -> Actor:
    """Someone signing themselves up (the portal, the public join page): not a member yet, known by address."""
    return Actor("member", "", "self sign-up", ip)
