from django.http import HttpResponse
from django.utils import timezone


def index(request):
    now = timezone.now()
    return HttpResponse(
        f"Hello from Django\nServer time: {now.isoformat(timespec='seconds')}\n",
        content_type="text/plain; charset=utf-8",
    )
