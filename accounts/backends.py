"""Login lockout for every web login, not for code that checks a password itself.

Django's login views, the admin's and POST /api/auth/login all pass the request to
``authenticate``, so axes counts their failures per username and address. A call
without a request (a management command, a test's ``Client.login``) comes from
someone already on the machine: there is no address to count and no lockout.
"""

from axes.backends import AxesStandaloneBackend


class WebLoginLockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
