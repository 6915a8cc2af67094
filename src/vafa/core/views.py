from django.http import HttpResponse
from django.utils.html import escape


def home(request):
    from vafa.tenancy.models import Business

    names = "".join(f"<li>{escape(b.name)} <code>{escape(b.slug)}</code></li>" for b in Business.objects.order_by("id")[:50])
    return HttpResponse(
        "<!doctype html><html lang='fa' dir='rtl'><meta charset='utf-8'><title>وفا</title>"
        "<body style='font-family:Vazirmatn,Tahoma,sans-serif;max-width:40rem;margin:3rem auto'>"
        "<h1>وفا — باشگاه مشتریان</h1><p>Vafa loyalty platform</p>"
        f"<ul>{names}</ul><p><a href='/admin/'>پنل مدیریت (admin)</a></p></body></html>"
    )
