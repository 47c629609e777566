"""A real OpenID provider process (``oidc-provider-mock``) for the sign-in tests."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from smtp_inbox import free_port  # type: ignore[import-not-found]


class OidcProvider:
    def __init__(self, *, token_max_age: int = 3600) -> None:
        port = free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        self.discovery_url = self.issuer + "/.well-known/openid-configuration"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--token-max-age",
                str(token_max_age),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=self.issuer, trust_env=False, timeout=10)
        deadline = time.monotonic() + 120
        while True:
            try:
                if self.http.get("/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("the OpenID provider did not start")
            time.sleep(0.1)

    def set_claims(self, sub: str, claims: dict[str, object]) -> None:
        self.http.put(f"/users/{sub}", json=claims).raise_for_status()

    def authorize(self, url: str, sub: str) -> str:
        """Sign in as ``sub`` on the provider's page; returns where it sends the browser."""
        response = self.http.post(url, data={"sub": sub})
        assert response.status_code in (302, 303), response.text
        return response.headers["location"]

    def code_for(
        self, client_id: str, redirect_uri: str, sub: str, *, nonce: str, state: str = "s"
    ) -> str:
        query = urlencode(
            {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "openid profile",
                "nonce": nonce,
                "state": state,
            }
        )
        back = self.authorize(f"/oauth2/authorize?{query}", sub)
        return parse_qs(urlsplit(back).query)["code"][0]

    def id_token(self, client_id: str, sub: str, *, nonce: str) -> str:
        redirect_uri = "http://127.0.0.1/cb"
        code = self.code_for(client_id, redirect_uri, sub, nonce=nonce)
        response = self.http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "client_secret": "any",
            },
        )
        response.raise_for_status()
        token: str = response.json()["id_token"]
        return token

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
