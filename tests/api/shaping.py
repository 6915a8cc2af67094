"""The hot answers rendered without Ninja's response validation (core.schemas.shaped), set beside what that
validation renders: shared by the balance, validation and purchase answer tests."""

import copy

from ninja.operation import ResponseObject

from vafa.api.site import api
from vafa.core.schemas import shaped


def operation(router, view_func):
    for view in router.path_operations.values():
        for found in view.operations:
            if found.view_func is view_func:
                return found
    raise AssertionError(f"no operation for {view_func.__name__}")


def validated_bytes(router, view_func, answer: dict, status: int = 200) -> bytes:
    """What Ninja's response validation rendered for this answer (Operation._result_to_response)."""
    model = operation(router, view_func).response_models[status]
    dumped = model.model_validate(ResponseObject(answer)).model_dump()["response"]
    return api.renderer.render(None, dumped, response_status=status).encode()


def shaped_bytes(schema, answer: dict, status: int = 200) -> bytes:
    return api.renderer.render(None, shaped(schema, answer), response_status=status).encode()


def spy_on_shaped(monkeypatch, module) -> list[dict]:
    """Every answer `module`'s routes shape from here on, copied as it was before rendering."""
    seen: list[dict] = []

    def spy(model, data):
        seen.append(copy.deepcopy(data))
        return shaped(model, data)

    monkeypatch.setattr(module, "shaped", spy)
    return seen
