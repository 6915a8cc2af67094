from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from vafa.access.backends import AdminLoginForm, LoginForm
from vafa.api.problems import unknown_api_path
from vafa.api.site import api
from vafa.catalogue.views import gift_picture
from vafa.core.views import home
from vafa.members.views import join

admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", home, name="home"),
    # first: Django tries the patterns in turn, raising and catching a Resolver404 for every include passed (six
    # before these cost an API request 0.02 ms, issue 11); no other pattern matches a path under api/
    path("api/v1/", api.urls),
    re_path(r"^api/", unknown_api_path),  # every other path under /api answers a problem, not an HTML page
    path("login/", auth_views.LoginView.as_view(template_name="access/login.html",
                                                     authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/<slug:slug>/", join, name="join"),
    path("panel/claims/", include("vafa.portal.claim_views")),
    path("panel/sync-problems/", include("vafa.till.panel_views")),
    path("panel/", include("vafa.panel.urls")),
    path("till/", include("vafa.till.urls")),
    path("m/", include("vafa.portal.urls")),
    path("media/gifts/<str:name>", gift_picture, name="gift_picture"),
    path("admin/", admin.site.urls),
]

# Error pages in the reader's language (Django's own are English only).
handler404 = "vafa.core.views.page_not_found"
handler403 = "vafa.core.views.permission_denied"
handler500 = "vafa.core.views.server_error"
