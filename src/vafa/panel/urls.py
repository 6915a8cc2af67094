from django.urls import path

from vafa.panel import cards, member_views, purchase_views, reports, settings_views, views, wizard

app_name = "panel"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.logout, name="logout"),
    path("language", views.language, name="language"),
    path("members/", member_views.member_list, name="members"),
    path("members/new", member_views.member_new, name="member_new"),
    path("members/<int:member_id>/", member_views.member_page, name="member"),
    path("members/<int:member_id>/edit", member_views.member_edit, name="member_edit"),
    path("members/<int:member_id>/status", member_views.member_status, name="member_status"),
    path("members/<int:member_id>/<slug:action>", member_views.member_action, name="member_action"),
    path("members/<int:member_id>/cards/<slug:action>", member_views.card_action, name="card_action"),
    path("members/<int:member_id>/cards/<str:number>/print", cards.card_print, name="card_print"),
    path("purchases/", purchase_views.purchase_list, name="purchases"),
    path("purchases/<int:purchase_id>/", purchase_views.purchase_detail, name="purchase"),
    path("reports/", reports.report_index, name="reports"),
    path("reports/audit", reports.audit_log, name="audit_log"),
    path("reports/<slug:slug>", reports.report, name="report"),
    path("setup/", wizard.setup, name="setup"),
    path("setup/handbook", wizard.handbook, name="setup_handbook"),
    path("logo", settings_views.logo, name="logo"),
    path("settings/", settings_views.profile, name="settings"),
    path("settings/branches", settings_views.branches, name="settings_branches"),
    path("settings/operators", settings_views.operators, name="settings_operators"),
    path("settings/operators/<int:operator_id>/active", settings_views.operator_active, name="operator_active"),
    path("invite/<str:uid>/<str:token>", settings_views.invite, name="invite"),
    path("settings/keys", settings_views.keys, name="settings_keys"),
    path("settings/keys/<int:key_id>/revoke", settings_views.key_revoke, name="key_revoke"),
    path("settings/webhooks", settings_views.webhook_list, name="settings_webhooks"),
    path("settings/webhooks/<int:webhook_id>/<slug:action>", settings_views.webhook_action, name="webhook_action"),
]
