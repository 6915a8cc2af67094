"""The API's URL patterns resolved by first segment (vafa.api.ByFirstSegment) match as Ninja's flat list does."""

import re

import pytest
from django.urls import Resolver404, URLResolver, resolve, reverse
from django.urls.resolvers import RoutePattern

from vafa.api import ByFirstSegment
from vafa.api.site import api


def _paths(patterns):
    for pattern in patterns:
        for value in ("5", "abc", "x/y"):
            path = re.sub(r"<[^>]+>", value, str(pattern.pattern))
            yield from (path, path + "/", path + "/more")
    yield from ("", "nope", "members//5", "members/5/balance/")


def _seen(resolver, path):
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return None
    # everything of a match but `tried` (what a debug 404 page lists)
    return (match.route, match.url_name, match.args, match.kwargs, match.func, match.app_names, match.namespaces,
            match.view_name, match.captured_kwargs, match.extra_kwargs) if match else None


def test_every_path_resolves_as_in_ninjas_flat_list():
    flat = api._get_urls()
    grouped, plain = ByFirstSegment(flat), URLResolver(RoutePattern(""), flat)
    for path in _paths(flat):
        assert _seen(grouped, path) == _seen(plain, path), path


@pytest.mark.parametrize(("path", "name"), [("/api/v1/vouchers/validate", "validate_code"),
                                            ("/api/v1/members/5/balance", "get_balance"),
                                            ("/api/v1/openapi.json", "openapi-json")])
def test_the_site_resolves_and_reverses_api_paths(path, name):
    match = resolve(path)
    assert match.url_name == name
    assert reverse(f"api-v1:{name}", kwargs=match.kwargs) == path
