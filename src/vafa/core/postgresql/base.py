"""Django's PostgreSQL backend with a health check that costs no round trip while the server has said nothing.

Django checks a reused connection before a request's first statement (CONN_HEALTH_CHECKS) with a `SELECT 1`: a
round trip, and a tenth of a balance read's CPU in the worker and more in the server (issue 11). A server that
ends a connection (a restart, a terminated backend, an idle timeout) sends a message and closes it, which makes
the socket readable; a healthy idle connection's socket is silent. So a silent socket passes at once, and only
a readable one gets Django's own check (which then finds the connection dead and closes it)."""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (self.connection is not None and self.health_check_enabled and not self.health_check_done
                and not self._server_spoke()):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _server_spoke(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # closed meanwhile: Django's check decides
            return True
        return bool(readable)
