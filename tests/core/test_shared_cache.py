"""The cache is shared by the server's processes: what one request stored (a backtest's progress, an uploaded import
file, login failures) is found by a request that another process serves."""

import os
import subprocess
import sys

from django.conf import settings
from django.core.cache import cache


def test_another_process_reads_what_this_one_stored():
    cache.set("shared:probe", {"done": 3, "of": 7}, 60)
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "vafa.settings", "VAFA_DATA_DIR": str(settings.DATA_DIR),
                        "PYTHONPATH": os.pathsep.join(sys.path)}
    code = ("import django; django.setup(); from django.conf import settings; from django.core.cache import cache; "
            f"settings.CACHES['default']['LOCATION'] = {settings.CACHES['default']['LOCATION']!r}; "
            "print(cache.get('shared:probe'))")
    seen = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    assert seen.stdout.strip() == "{'done': 3, 'of': 7}", seen.stderr
