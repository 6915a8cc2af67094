from django.urls import path

from vafa.till import views

app_name = "till"

urlpatterns = [
    path("", views.choose_branch, name="choose"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    path("<slug:branch_code>/", views.branch_home, name="branch"),
    path("<slug:branch_code>/signup", views.quick_signup, name="signup"),
    path("<slug:branch_code>/today", views.today, name="today"),
    path("<slug:branch_code>/problems", views.problems, name="problems"),
    path("<slug:branch_code>/cache.json", views.offline_cache, name="cache"),
    path("<slug:branch_code>/sync", views.sync, name="sync"),
    path("<slug:branch_code>/m/<int:member_id>/", views.member_page, name="member"),
    path("<slug:branch_code>/m/<int:member_id>/preview", views.purchase_preview, name="preview"),
    path("<slug:branch_code>/m/<int:member_id>/purchase", views.purchase_confirm, name="purchase"),
    path("<slug:branch_code>/m/<int:member_id>/visit", views.visit, name="visit"),
    path("<slug:branch_code>/m/<int:member_id>/card", views.card_replace, name="card"),
    path("<slug:branch_code>/m/<int:member_id>/rewards/<int:reward_id>/use", views.reward_use, name="reward_use"),
    path("<slug:branch_code>/p/<int:purchase_id>/return", views.purchase_return, name="return"),
]
