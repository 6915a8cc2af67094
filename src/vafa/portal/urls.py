from django.urls import path

from vafa.portal import views

app_name = "portal"

urlpatterns = [
    path("<slug:slug>/", views.home, name="home"),
    path("<slug:slug>/sign-in/", views.sign_in_page, name="sign_in"),
    path("<slug:slug>/join/", views.join, name="join"),
    path("<slug:slug>/sign-out/", views.sign_out_view, name="sign_out"),
    path("<slug:slug>/history/", views.history, name="history"),
    path("<slug:slug>/points/", views.points, name="points"),
    path("<slug:slug>/gifts/", views.gifts, name="gifts"),
    path("<slug:slug>/offers/", views.offers, name="offers"),
    path("<slug:slug>/invite/", views.invite, name="invite"),
    path("<slug:slug>/profile/", views.profile, name="profile"),
    path("<slug:slug>/receipts/", views.receipts, name="receipts"),
    path("<slug:slug>/contact/", views.contact, name="contact"),
    path("<slug:slug>/manifest.webmanifest", views.manifest, name="manifest"),
    path("<slug:slug>/logo", views.logo, name="logo"),
    path("<slug:slug>/sw.js", views.service_worker, name="service_worker"),
]
