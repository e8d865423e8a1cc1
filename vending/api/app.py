"""The FastAPI application: :func:`create_app` builds one for a database and master key.

No globals: everything a request needs hangs off the app the factory returns,
so tests build as many as they like and ``sts serve`` builds one per worker.
Routes are plain (sync) functions: FastAPI runs them in its thread pool, each
on its own database connection from the engine's pool. The pool runs at most
``threads`` requests of a worker at once (:mod:`vending.serving`); the rest wait
their turn in the order they came.

Operators authenticate with the ``X-API-Key`` header (vending.vendors). Every
response that follows a sale carries the receipt and the vendor's float after
it; every refusal is the one error shape of :mod:`vending.api.errors`.
"""

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException

from sts.errors import RangeError, StsError
from sts.tokens.management import Register
from vending import cashup, keychange, refunds, sales, vendors
from vending.api import schemas
from vending.api.errors import ApiError, ErrorType, Where, api_error, responses
from vending.backend import Backend, RandomBits
from vending.db import open_database
from vending.keystore import MasterKey
from vending.sales import CLIENT_ID_PATTERN
from vending.serving import DEFAULT_THREADS, MAX_THREADS
from vending.vendors import Principal, Role, amount_text

API_KEY_HEADER = "X-API-Key"
#: The largest request body accepted (a purchase is about 100 bytes).
MAX_BODY_BYTES = 16 * 1024
E = ErrorType


@dataclass(frozen=True)
class Limits:
    """Bounds on one purchase, checked before any work."""

    max_money: Decimal = Decimal("100000")
    max_kwh: Decimal = Decimal("20000")


def writer_queue(backend: Backend) -> Callable[[], AbstractContextManager[Any]]:
    """What a route that writes holds while it writes.

    SQLite lets one transaction write at a time. Without this, the threads of a
    worker wait for one another inside SQLite's busy handler, which sleeps in
    growing steps, and a few purchases wait far longer than the rest; with it,
    they queue on a lock in the order they came. PostgreSQL needs nothing.
    """
    if backend.engine.dialect.name != "sqlite":
        return nullcontext
    lock = threading.Lock()
    return lambda: lock


@contextmanager
def refused(where: Where) -> Iterator[None]:
    """The project's errors raised inside become the API's answer (vending.api.errors)."""
    try:
        yield
    except StsError as exc:
        raise api_error(exc, where) from None


def _float(principal: Principal, balance: Decimal | None) -> dict[str, Any]:
    return {
        "vendor": principal.vendor,
        "balance": None if balance is None else amount_text(balance),
    }


def _sale(principal: Principal, sale: sales.Sale) -> JSONResponse:
    return JSONResponse(
        {"receipt": sale.receipt_dict(), "float": _float(principal, sale.balance_after)}
    )


def _advice(principal: Principal, result: sales.AdviceResult) -> JSONResponse:
    return JSONResponse(
        {
            "id": result.client_id,
            "advice": result.advice,
            "status": result.status.value,
            "float": _float(principal, result.balance),
        }
    )


def _ok(model: type) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Done."}}


def _register(name: str | None) -> Register:
    return Register.ALL if name is None else Register[name.upper()]


def _amount(body: schemas.PurchaseIn, limits: Limits) -> tuple[str, str]:
    """The purchase's amount field and value, within the bounds of one purchase."""
    if (body.money is None) == (body.kwh is None):
        raise ApiError(
            E.FORMAT_ERROR, "give either money or kwh, not both or neither", "money", body.money
        )
    field, value = ("money", body.money) if body.money is not None else ("kwh", body.kwh)
    assert value is not None
    most = limits.max_money if field == "money" else limits.max_kwh
    if Decimal(value) > most:
        raise ApiError(
            E.AMOUNT_TOO_HIGH, f"{field} {value} is above the maximum of {most}", field, value
        )
    return field, value


def _router(backend: Backend, limits: Limits) -> APIRouter:
    router = APIRouter(prefix="/v1")
    writing = writer_queue(backend)
    key_header = APIKeyHeader(
        name=API_KEY_HEADER,
        auto_error=False,
        description="The operator's API key (`sts operators add` shows it once).",
    )

    def principal(key: Annotated[str | None, Security(key_header)] = None) -> Principal:
        with refused(Where()):
            return vendors.authenticate(backend, key)

    Who = Annotated[Principal, Depends(principal)]
    Meter = Annotated[str, Path(pattern=schemas.DRN_PATTERN, description="Meter number.")]
    ClientId = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, max_length=64)]

    def needs(who: Principal, role: Role) -> None:
        with refused(Where()):
            who.require(role)

    @router.get(
        "/float", response_model=None, responses={**_ok(schemas.VendorFloatOut), **responses()}
    )
    def get_float(who: Who) -> JSONResponse:
        """The operator's vendor and its float now."""
        with refused(Where()):
            balance, limit = sales.current_float(backend, who)
        return JSONResponse(
            {
                "vendor": who.vendor,
                "operator": who.operator,
                "role": who.role.value,
                "balance": amount_text(balance),
                "credit_limit": amount_text(limit),
                "available": amount_text(balance + limit),
            }
        )

    @router.get(
        "/meters/{meter}",
        response_model=None,
        responses={**_ok(schemas.MeterOut), **responses(E.UNKNOWN_METER)},
    )
    def lookup(meter: Meter, who: Who) -> JSONResponse:
        """A meter before a sale: customer, tariff, and whether a key change is pending."""
        with refused(Where("meter", meter)):
            return JSONResponse(sales.lookup(backend, meter).to_dict())

    @router.post(
        "/purchases",
        response_model=None,
        responses={
            **_ok(schemas.SaleOut),
            **responses(
                E.INVALID_AMOUNT,
                E.AMOUNT_TOO_LOW,
                E.AMOUNT_TOO_HIGH,
                E.INSUFFICIENT_FLOAT,
                E.FORBIDDEN,
                E.UNKNOWN_METER,
                E.DUPLICATE_RECORD,
                E.METER_KEY_INVALID,
                E.WRONG_SERVICE,
            ),
        },
    )
    def purchase(body: schemas.PurchaseIn, who: Who) -> JSONResponse:
        """Buy credit for a meter by money or kWh. The same id again returns the same sale."""
        field, value = _amount(body, limits)
        where = Where("meter", body.meter, field, value, id_value=body.id)
        with refused(where), writing():
            sale = sales.purchase(backend, who, body.id, body.meter, money=body.money, kwh=body.kwh)
        return _sale(who, sale)

    @router.post(
        "/free-units",
        response_model=None,
        responses={
            **_ok(schemas.SaleOut),
            **responses(
                E.NO_FREE_UNITS_DUE,
                E.WRONG_SERVICE,
                E.FORBIDDEN,
                E.UNKNOWN_METER,
                E.DUPLICATE_RECORD,
                E.METER_KEY_INVALID,
            ),
        },
    )
    def free_units(body: schemas.FreeUnitsIn, who: Who) -> JSONResponse:
        """The month's free basic units for a meter as a token of their own (no charge).

        Once per UTC calendar month when the meter's tariff grants them; otherwise
        ``no_free_units_due``. The same id again returns the same token.
        """
        with refused(Where("meter", body.meter, id_value=body.id)), writing():
            sale = sales.free_units(backend, who, body.id, body.meter)
        return _sale(who, sale)

    @router.get(
        "/purchases/{id}",
        response_model=None,
        responses={**_ok(schemas.SaleOut), **responses(E.FORBIDDEN, E.UNKNOWN_RECORD)},
    )
    def reprint(id: ClientId, who: Who) -> JSONResponse:
        """Reprint: the stored receipt of one of the vendor's transactions."""
        with refused(Where(not_found=E.UNKNOWN_RECORD, id_value=id)):
            return _sale(who, sales.reprint(backend, who, id))

    @router.get(
        "/meters/{meter}/last-sale",
        response_model=None,
        responses={**_ok(schemas.SaleOut), **responses(E.FORBIDDEN, E.UNKNOWN_METER)},
    )
    def last_sale(meter: Meter, who: Who) -> JSONResponse:
        """Reprint the vendor's last sale for a meter."""
        with refused(Where("meter", meter)):
            return _sale(who, sales.last_sale(backend, who, meter))

    @router.post(
        "/purchases/{id}/confirm",
        response_model=None,
        responses={**_ok(schemas.AdviceOut), **responses(E.FORBIDDEN)},
    )
    def confirm(id: ClientId, who: Who) -> JSONResponse:
        """Confirm advice: the customer got the tokens. Any order, any number of times."""
        with refused(Where(id_value=id)), writing():
            return _advice(who, sales.confirm(backend, who, id))

    @router.post(
        "/purchases/{id}/reversal",
        response_model=None,
        responses={
            **_ok(schemas.AdviceOut),
            **responses(E.FORBIDDEN, E.UNKNOWN_RECORD, E.REVERSAL_REFUSED),
        },
    )
    def reversal(id: ClientId, who: Who) -> JSONResponse:
        """Reversal advice: the customer did not get the tokens; the float is given back.

        A reversal that arrives before its purchase cancels the purchase in advance.
        """
        where = Where(not_found=E.UNKNOWN_RECORD, conflict=E.REVERSAL_REFUSED, id_value=id)
        with refused(where), writing():
            return _advice(who, sales.reverse(backend, who, id))

    @router.post(
        "/purchases/{id}/refund",
        response_model=None,
        responses={
            **_ok(schemas.RefundOut),
            **responses(E.INVALID_AMOUNT, E.FORBIDDEN, E.UNKNOWN_RECORD, E.DUPLICATE_RECORD),
        },
    )
    def refund(id: ClientId, body: schemas.RefundIn, who: Who) -> JSONResponse:
        """Refund: a credit note against a purchase (its tokens stand); the float is credited.

        Once per purchase, for at most what it cost; the same request again returns it.
        """
        where = Where(
            amount_field="amount", amount=body.amount, not_found=E.UNKNOWN_RECORD, id_value=id
        )
        with refused(where), writing():
            note = refunds.refund(backend, who, id, body.amount, body.reason)
        return JSONResponse(
            {"credit_note": note.to_dict(), "float": _float(who, note.balance_after)}
        )

    @router.post(
        "/management-tokens",
        response_model=None,
        responses={
            **_ok(schemas.SaleOut),
            **responses(E.FORBIDDEN, E.UNKNOWN_METER, E.DUPLICATE_RECORD, E.METER_KEY_INVALID),
        },
    )
    def management(body: schemas.ManagementIn, who: Who) -> JSONResponse:
        """Clear credit, clear tamper, set a power limit, or a meter test token."""
        needs(who, Role.ADMINISTER)
        if body.kind == "power_limit" and body.watts is None:
            raise ApiError(E.FORMAT_ERROR, "a power_limit token needs watts", "watts", None)
        with refused(Where("meter", body.meter, id_value=body.id)), writing():
            sale = sales.management(
                backend,
                who,
                body.id,
                body.meter,
                body.kind,
                register=_register(body.clear_register),
                watts=body.watts,
            )
        return _sale(who, sale)

    @router.post(
        "/key-changes",
        response_model=None,
        responses={
            **_ok(schemas.KeyChangeOut),
            **responses(E.FORBIDDEN, E.UNKNOWN_METER, E.DUPLICATE_RECORD, E.FUNCTION_NOT_SUPPORTED),
        },
    )
    def key_change(body: schemas.KeyChangeIn, who: Who) -> JSONResponse:
        """Order a key change; its tokens come first on the meter's next purchase."""
        needs(who, Role.ADMINISTER)
        where = Where("meter", body.meter, id_field="meter", id_value=body.meter)
        with refused(where), writing():
            order = keychange.order_key_change(
                backend,
                body.meter,
                krn=body.krn,
                base_date=body.base_date,
                ti=body.ti,
                kt=body.kt,
                sgc=body.sgc,
            )
        return JSONResponse(order.to_dict())

    @router.get(
        "/reports/sales",
        response_model=None,
        responses={**_ok(schemas.SalesReportOut), **responses(E.FORBIDDEN)},
    )
    def sales_report(
        who: Who, since: Annotated[date, Query()], until: Annotated[date, Query()]
    ) -> JSONResponse:
        """The vendor's sales per UTC day (at most a year)."""
        needs(who, Role.SUPERVISE)
        with refused(Where("until", until.isoformat())):
            lines = cashup.sales_by_day(backend, who.vendor_id, since, until)
        return JSONResponse(
            {
                "vendor": who.vendor,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "days": [line.to_dict() for line in lines],
            }
        )

    @router.get(
        "/reports/cashup",
        response_model=None,
        responses={**_ok(schemas.CashUpOut), **responses(E.FORBIDDEN)},
    )
    def cashup_report(who: Who, day: Annotated[date, Query()]) -> JSONResponse:
        """What each operator sold, reversed and owes on a UTC day; the float's day."""
        needs(who, Role.SUPERVISE)
        with refused(Where("day", day.isoformat())):
            return JSONResponse(cashup.cashup(backend, who.vendor_id, day).to_dict())

    return router


class BodyLimit:
    """Refuse a request whose declared body is above ``limit`` bytes before reading it."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                error = ApiError(
                    E.FORMAT_ERROR,
                    f"request body of {length.decode('latin-1')[:20]} bytes is above the "
                    f"limit of {self.limit} bytes",
                    "Content-Length",
                    length.decode("latin-1"),
                )
                await JSONResponse(error.body(), status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else []
    if loc and loc[0] == "header":
        return str(loc[-1])
    return ".".join(parts) or None


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = tuple(first.get("loc", ()))
        value = first.get("input") if first.get("type") != "missing" else None
        if isinstance(value, dict | list):
            value = None
        where = _field(loc)
        message = f"{where or 'the request'}: {first.get('msg', 'is not valid')}"
        error = ApiError(E.FORMAT_ERROR, message, where, value)
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            message = f"{request.method} {request.url.path} is not an operation of this API"
            error = ApiError(E.FUNCTION_NOT_SUPPORTED, message)
            return JSONResponse(error.body(), status_code=exc.status_code)
        error = ApiError(E.FORMAT_ERROR, str(exc.detail))
        return JSONResponse(error.body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def on_anything(_request: Request, exc: Exception) -> JSONResponse:
        error = ApiError(
            E.SYSTEM_ERROR,
            "the server failed; the outcome is unknown: send the same request with the same "
            "id again",
        )
        return JSONResponse(error.body(), status_code=error.status)


def create_app(
    database_url: str,
    master: MasterKey | None,
    clock: Callable[[], datetime],
    rng: RandomBits,
    limits: Limits | None = None,
    create: bool = False,
    threads: int = DEFAULT_THREADS,
) -> FastAPI:
    """The vending API on the database at ``database_url``.

    ``create`` lets a fresh SQLite file be created (``sts serve`` opens the database
    once before starting workers, which then open it with ``create=False``).
    ``threads`` is how many requests the app runs at once.
    """
    if not 1 <= threads <= MAX_THREADS:
        raise RangeError(f"threads {threads} is out of range; expected 1 to {MAX_THREADS}")
    database = open_database(database_url, create=create)
    backend = Backend.open(database, master, clock, rng)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The limiter of the thread pool that runs sync routes, one per event loop.
        to_thread.current_default_thread_limiter().total_tokens = threads
        yield
        backend.close()

    app = FastAPI(
        title="sts-toolkit vending API",
        version="1",
        summary="Prepaid STS vending for tills, banks and mobile money.",
        description=(
            "Authenticate with the `X-API-Key` header. Errors are one JSON shape "
            "`{type, field, value, message}`. A 4xx is a definite refusal; a 5xx or a "
            "timeout means the outcome is unknown: send the same request with the same id "
            "again."
        ),
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.backend = backend
    _install_handlers(app)
    app.add_middleware(BodyLimit)
    app.include_router(_router(backend, limits or Limits()))
    return app
