"""The WSGI application gunicorn serves in the fault tests."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.faultapp.settings")
application = get_wsgi_application()
