# A token request with Python requests or httpx (argv[1]), run by
# exec_test.go with /usr/bin/python3. No proxy or CA is given in code.
import os
import sys

lib, url = sys.argv[1], sys.argv[2]
form = {"grant_type": "client_credentials", "client_id": "app", "client_secret": os.environ["CANARY_SECRET"]}
if lib == "requests":
    import requests
    r = requests.post(url, data=form, timeout=30)
    status, body = r.status_code, r.text
else:
    import httpx
    r = httpx.post(url, data=form, timeout=30)
    status, body = r.status_code, r.text
print("%s status=%d token=%s" % (lib, status, str("access_token" in body).lower()))
