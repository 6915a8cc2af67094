from django.http import HttpResponse


def home(request):
    # No list of businesses: who the platform's customers are is not for anonymous visitors.
    return HttpResponse(
        "<!doctype html><html lang='fa' dir='rtl'><meta charset='utf-8'><title>وفا</title>"
        "<body style='font-family:Vazirmatn,Tahoma,sans-serif;max-width:40rem;margin:3rem auto'>"
        "<h1>وفا — باشگاه مشتریان</h1><p>Vafa loyalty platform</p>"
        "<p><a href='/panel/'>پنل مدیریت باشگاه (back office)</a> · <a href='/admin/'>ادمین سامانه (admin)</a>"
        " · <a href='/api/v1/docs'>API</a></p></body></html>"
    )
