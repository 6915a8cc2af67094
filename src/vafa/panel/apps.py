import datetime as dt

from django.apps import AppConfig


class PanelConfig(AppConfig):
    name = "vafa.panel"
    label = "panel"
    verbose_name = "Back office"

    def ready(self) -> None:
        # App loading: the job imports models, so it is wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.panel.rollups import roll_up_reports
        from vafa.panel.services import refresh_dashboards

        # every time the worker polls: the job itself skips dashboards younger than FIGURES_EVERY
        register("dashboard_figures", dt.timedelta(seconds=0), refresh_dashboards)
        # the reports' kept days (panel.rollups): a run takes in what was written since the last one
        register("report_rollups", dt.timedelta(minutes=10), roll_up_reports)
