"""The dashboard's only door to the system: a small httpx client for the Futurisys API.

Every failure surfaces as an `ApiError` whose message a person can read on the page
(API down, key refused, input rejected), never as a transport exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ui.settings import UiSettings, get_settings


class ApiError(Exception):
    """A failed API call, with a message meant for the page."""

    def __init__(self, message: str, status_code: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail


class ApiUnavailable(ApiError):
    """The API cannot be reached, or it answered that it cannot serve (503)."""


class ApiAuthError(ApiError):
    """The API refused the API key (401/403)."""


class ApiNotFound(ApiError):
    """The API has no such resource (404)."""


class ApiRejected(ApiError):
    """The API rejected the input (400/409/422); `problems` names each field."""

    def __init__(self, message: str, status_code: int, detail: Any, problems: list[str]) -> None:
        super().__init__(message, status_code, detail)
        self.problems = problems


@dataclass(frozen=True)
class Submitted:
    """Answer to a single submission: the request object, and whether it finished in time."""

    request: dict[str, Any]
    done: bool


class ApiClient:
    """Synchronous client; one short-lived httpx.Client per call keeps Streamlit reruns stateless."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: UiSettings | None = None) -> ApiClient:
        s = settings or get_settings()
        return cls(s.api_url, s.api_key, s.timeout_seconds)

    # -- reads -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/health")

    def metadata(self) -> dict[str, Any]:
        return self._json("GET", "/metadata/")

    def models(self) -> list[dict[str, Any]]:
        return self._json("GET", "/models/")

    def get_request(self, request_id: str, wait: float | None = None) -> dict[str, Any]:
        params = {"wait": _seconds(wait)} if wait else None
        extra = wait or 0.0
        return self._json("GET", f"/predictions/{request_id}", params=params, extra_timeout=extra)

    def lookup(self, request_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Up to 10,000 requests in one call, in the order asked; None where the API knows no such id."""
        body = {"request_ids": [str(i) for i in request_ids]}
        return list(self._json("POST", "/predictions/lookup", json=body, extra_timeout=30.0)["items"])

    def history(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of history, newest first: {"items": [...], "next_cursor": str | None, "total": int,
        "total_capped": bool} (`total`: the requests matching the filters over all pages, capped)."""
        params = {
            k: v
            for k, v in {
                "status": status,
                "model": model,
                "since": since,
                "until": until,
                "limit": limit,
                "cursor": cursor,
            }.items()
            if v not in (None, "")
        }
        return self._json("GET", "/predictions/history", params=params)

    def monitoring_summary(self, window_minutes: int) -> dict[str, Any]:
        return self._json("GET", "/monitoring/summary", params={"window_minutes": window_minutes})

    def audit(self, *, actions: Sequence[str] = (), limit: int | None = None) -> dict[str, Any]:
        """One page of the audit trail, newest first (GET /audit): {"items": [...], "next_before": ...}."""
        params = {k: v for k, v in {"action": list(actions), "limit": limit}.items() if v}
        return self._json("GET", "/audit", params=params)

    def performance(
        self, *, model: str | None = None, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """Live figures per model version against the posted outcomes (GET /monitoring/performance)."""
        params = {k: v for k, v in {"model": model, "since": since, "until": until}.items() if v}
        return self._json("GET", "/monitoring/performance", params=params, extra_timeout=30.0)

    def shadows(self) -> list[dict[str, Any]]:
        """The challengers running in the shadow of the default (GET /models/shadows)."""
        return self._json("GET", "/models/shadows")

    def compare(self, challenger: str, since: str | None = None) -> dict[str, Any]:
        """A shadow challenger against the default on the same requests (GET /models/compare)."""
        params = {k: v for k, v in {"challenger": challenger, "since": since}.items() if v}
        return self._json("GET", "/models/compare", params=params, extra_timeout=30.0)

    def model_events(self, limit: int = 20) -> list[dict[str, Any]]:
        """Promotions, rollbacks and shadow changes, newest first (GET /models/events)."""
        return self._json("GET", "/models/events", params={"limit": limit})

    # -- writes (carry the API key) ------------------------------------------------------------

    def predict(self, features: Mapping[str, Any], model_name: str | None, wait: float) -> Submitted:
        """Submit one request and wait up to `wait` seconds for its result."""
        body: dict[str, Any] = {"features": dict(features)}
        if model_name:
            body["model_name"] = model_name
        response = self._send(
            "POST", "/predictions/request", params={"wait": _seconds(wait)}, json=body, extra_timeout=wait
        )
        payload = _decode(response)
        return Submitted(request=payload, done=response.status_code == 200)

    def explain(self, request_id: str, wait: float | None = None) -> dict[str, Any]:
        """Ask for a request's explanation (a listener computes it) and wait up to `wait` seconds for it;
        a body without `contributions` means it is still being computed."""
        params = {"wait": _seconds(wait)} if wait else None
        path = f"/predictions/{request_id}/explanation"
        return self._json("POST", path, params=params, extra_timeout=wait or 0.0)

    def explanations(self, request_ids: Sequence[str], top: int | None = None) -> list[dict[str, Any] | None]:
        """Ask for the explanations of many requests and read those that exist, in the order asked
        (POST /predictions/explanations); each item has a status, null for an unknown id."""
        body: dict[str, Any] = {"request_ids": list(request_ids)}
        if top is not None:
            body["top"] = top
        return self._json("POST", "/predictions/explanations", json=body, extra_timeout=30.0)["items"]

    def submit_batch(self, items: Iterable[Mapping[str, Any]], model_name: str | None) -> list[str]:
        body: dict[str, Any] = {"items": [dict(i) for i in items]}
        if model_name:
            body["model_name"] = model_name
        payload = self._json("POST", "/predictions/batch", json=body, extra_timeout=30.0)
        return [str(i) for i in payload["request_ids"]]

    def post_outcomes(self, items: Sequence[Mapping[str, Any]], source: str | None = None) -> dict[str, Any]:
        """Up to 10,000 observed outcomes; the API's counts (matched, recorded, unchanged, unknown...)."""
        body: dict[str, Any] = {"items": [dict(i) for i in items]}
        if source:
            body["source"] = source
        return self._json("POST", "/outcomes", json=body, extra_timeout=30.0)

    # -- plumbing ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return _decode(self._send(method, path, **kwargs))

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        extra_timeout: float = 0.0,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        url = self.base_url + path
        try:
            with httpx.Client(timeout=self.timeout + extra_timeout) as client:
                response = client.request(method, url, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(
                f"The API at {self.base_url} did not answer within {self.timeout + extra_timeout:.0f} s."
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiUnavailable(
                f"Cannot reach the API at {self.base_url}. Is it running? "
                f"(set FUTURISYS_API_URL to point elsewhere; {type(exc).__name__})"
            ) from exc
        _raise_for_status(response, self.api_key is not None)
        return response


def client() -> ApiClient:
    """The client the dashboard's settings describe (read afresh: a test may change them)."""
    return ApiClient.from_settings(get_settings())


def _seconds(value: float) -> str:
    return f"{value:g}"


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(
            f"The API answered {response.status_code} with something that is not JSON.",
            response.status_code,
        ) from exc


def _raise_for_status(response: httpx.Response, key_sent: bool) -> None:
    code = response.status_code
    if code < 400:
        return
    detail = _detail(response)
    if code in (401, 403):
        raise ApiAuthError(_auth_message(code, _detail_text(detail), key_sent), code, detail)
    if code == 404:
        raise ApiNotFound(_detail_text(detail) or "Not found.", code, detail)
    if code in (400, 409, 413, 422):
        problems = describe_validation(detail)
        summary = "; ".join(problems[:5]) or "the API rejected the input"
        raise ApiRejected(f"The API rejected the input: {summary}", code, detail, problems)
    if code == 503:
        raise ApiUnavailable(
            "The API is up but cannot serve right now (503): "
            + (_detail_text(detail) or "its database may be unavailable."),
            code,
            detail,
        )
    raise ApiError(f"The API failed ({code}): {_detail_text(detail) or response.reason_phrase}", code, detail)


def _auth_message(code: int, said: str, key_sent: bool) -> str:
    """The API's own reason first (a missing key, a revoked one, a scope too narrow), then what to do."""
    if code == 403:
        hint = "This key may not do this: use a key with the needed scope in FUTURISYS_API_KEY."
    elif key_sent:
        hint = "Check FUTURISYS_API_KEY: the key may be wrong or revoked."
    else:
        hint = "Set FUTURISYS_API_KEY and restart the dashboard."
    return f"The API answered {code}: {said.rstrip('.') or 'access refused'}. {hint}"


def _detail(response: httpx.Response) -> Any:
    """The API's `detail`: a sentence, or (422) one {"loc", "msg", "type"} per field. An answer without
    one did not come from the API (a proxy's error page, say): its text stands in."""
    try:
        return response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _detail_text(detail: Any) -> str:
    return detail if isinstance(detail, str) else ""


def describe_validation(detail: str | list[dict[str, Any]]) -> list[str]:
    """The API's reasons for rejecting the input, one line each. Its field messages already name the
    field ('items.3.age: 150 is out of range [18, 60]'), so they are shown as they are."""
    return [detail] if isinstance(detail, str) else [str(err["msg"]) for err in detail]
