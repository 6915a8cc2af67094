"""Gift pictures, served to the back office and the member portal from their random names."""

from django.http import Http404
from django.views.decorators.http import require_GET

from vafa.catalogue.services import picture_path
from vafa.core.images import image_type, picture_response


@require_GET
def gift_picture(request, name: str):
    """Public like the shop window it shows, found only by its unguessable name; the type is read again from the
    bytes, so whatever lands in the folder is never served as anything but a picture."""
    path = picture_path(name)
    if path is None or not path.is_file():
        raise Http404
    data = path.read_bytes()
    kind = image_type(data)
    if kind is None:
        raise Http404
    response = picture_response(data, kind)
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # a new picture gets a new name
    return response
