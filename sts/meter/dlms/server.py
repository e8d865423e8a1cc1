"""The DLMS/COSEM server core: APDUs in, APDUs out, no sockets (sans-IO).

A :class:`~sts.meter.dlms.device.LogicalDevice` is one meter as a COSEM logical device: its object
table, its security settings and counters, and the server's notes beside it.
A transport opens one :class:`Session` per client connection (with the
client's and the server's SAP from its addressing) and feeds it whole APDUs::

    session = Session(device, client_sap=16, server_sap=1)
    reply = session.receive(aarq_bytes)      # the AARE, or None
    session.receive(get_request_bytes)       # a Get-Response
    session.released                         # True after RLRQ -> RLRE

**Associations.** Logical-name referencing only. The client SAP chooses the
client kind:

* 16, the public client: no authentication, no ciphering, read-only subset;
* 1, the management client: LLS with one of three passwords (reader,
  operator, admin: see :class:`~sts.meter.dlms.model.Level`), or HLS GMAC
  (mechanism 5) with security suite 0, which gives the admin level.

The association state machine is :data:`TRANSITIONS`; an event a state does
not list is a bug in this module (an :class:`AssertionError`), never the
client's doing: every request, however malformed, is answered by an APDU
(AARE reject, ExceptionResponse, a result code) and the state moves only as
the table says.

**Ciphering (suite 0).** A ciphered application context (the AARQ's user
information is a glo-initiateRequest) needs the global unicast encryption key
and the authentication key; every APDU in it is then a general-glo-cipher
APDU, authenticated and encrypted (AES-GCM-128, 12-octet tag). The client's
invocation counter must be at least :attr:`~sts.meter.dlms.device.Counters.client_next`; a lower one
(a replay) is refused with an ExceptionResponse naming the counter expected.
The server's own counter increases with every APDU it ciphers and never
repeats while the device's counters are kept. ``counters_changed`` asks the
transport to save them: at every ciphered association (the client's counter)
and every :data:`SAVE_EVERY` server counters; a replay after a crash would
need a new association, which the saved counter and a fresh HLS challenge
refuse.

**GET.** Normal and with list (multiple references). An answer longer than
the client's max receive PDU size goes in blocks (Get-Response-With-Datablock,
then Get-Request-Next) when the client negotiated block transfer with GET.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from dlms_cosem import enumerations as enums
from dlms_cosem import security
from dlms_cosem.dlms_data import OctetStringData
from dlms_cosem.exceptions import DecryptionError
from dlms_cosem.protocol import acse, xdlms
from dlms_cosem.protocol.xdlms import InvokeIdAndPriority

from sts.errors import StsError
from sts.meter.dlms import apdus, axdr
from sts.meter.dlms.basic import ASSOCIATION
from sts.meter.dlms.device import LogicalDevice, SecuritySettings
from sts.meter.dlms.errors import AccessResult, DlmsError
from sts.meter.dlms.image import activate_when_due
from sts.meter.dlms.model import Context, Level, obis_text

PUBLIC_CLIENT = 16
MANAGEMENT_CLIENT = 1
MANAGEMENT_DEVICE = 1
SUITE_0 = 0
CHALLENGE_LENGTH = 32
SAVE_EVERY = 500
"""The server's counter is saved at least every SAVE_EVERY uses (kept RESERVE = 1000 ahead)."""

SUPPORTED = xdlms.Conformance(
    general_protection=False,
    block_transfer_with_get_or_read=True,
    get=True,
    set=True,
    action=True,
    multiple_references=True,
    selective_access=True,
    priority_management_supported=True,
)
"""What the server offers; the AARE answers the intersection with the proposal."""


# -- the association state machine ---------------------------------------------------------


class State(Enum):
    IDLE = "idle"
    AWAITING_HLS = "awaiting HLS reply"
    ASSOCIATED = "associated"


class Event(Enum):
    ACCEPT = "AARQ accepted"
    ACCEPT_HLS = "AARQ accepted, HLS pending"
    REJECT = "AARQ rejected"
    HLS_PASSED = "HLS reply verified"
    HLS_FAILED = "HLS reply wrong"
    REQUEST = "xDLMS request"
    RELEASE = "RLRQ"


TRANSITIONS: dict[State, dict[Event, State]] = {
    State.IDLE: {
        Event.ACCEPT: State.ASSOCIATED,
        Event.ACCEPT_HLS: State.AWAITING_HLS,
        Event.REJECT: State.IDLE,
        Event.RELEASE: State.IDLE,
    },
    State.AWAITING_HLS: {
        Event.HLS_PASSED: State.ASSOCIATED,
        Event.HLS_FAILED: State.IDLE,
        Event.REJECT: State.AWAITING_HLS,
        Event.RELEASE: State.IDLE,
    },
    State.ASSOCIATED: {
        Event.REQUEST: State.ASSOCIATED,
        Event.REJECT: State.ASSOCIATED,
        Event.RELEASE: State.IDLE,
    },
}


@dataclass(frozen=True)
class _GetNormal:
    """Get-Request-Normal, parsed here: dlms-cosem cannot parse entry descriptors, nor
    range descriptors with selected values (the server needs both)."""

    invoke: InvokeIdAndPriority
    attribute: Any
    selection: tuple[int, Any] | None

    @classmethod
    def from_bytes(cls, apdu: bytes) -> _GetNormal:
        from dlms_cosem.cosem import CosemAttribute

        if len(apdu) < 13:
            raise DlmsError("a Get-Request-Normal is at least 13 octets")
        invoke = InvokeIdAndPriority.from_bytes(apdu[2:3])
        attribute = CosemAttribute.from_bytes(apdu[3:12])
        if apdu[12] == 0 and len(apdu) == 13:
            return cls(invoke, attribute, None)
        if apdu[12] != 1 or len(apdu) < 15:
            raise DlmsError("the access selection of a Get-Request-Normal is malformed")
        return cls(invoke, attribute, (apdu[13], axdr.decode(apdu[14:])))


@dataclass
class _LongGet:
    invoke: InvokeIdAndPriority
    data: bytes
    block: int  # the number of the block last sent


class _Refused(Exception):
    """An APDU the session answers with ``reply`` instead of handling it."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply


def _exception(state_error: int, service_error: int, expected: int | None = None) -> _Refused:
    return _Refused(apdus.exception_response(state_error, service_error, expected))


class Session:
    """One client connection's association with a logical device."""

    def __init__(self, device: LogicalDevice, client_sap: int, server_sap: int = 1) -> None:
        self.device = device
        self.client_sap = client_sap
        self.server_sap = server_sap
        self.state = State.IDLE
        self.level = Level.PUBLIC
        self.ciphered = False
        self.client_title = b""
        self.conformance = xdlms.Conformance()
        self.client_max_pdu = 0xFFFF
        self.released = False
        self._challenge = b""
        self._client_challenge = b""
        self._long_get: _LongGet | None = None

    # -- entry point -----------------------------------------------------------------------

    def receive(self, apdu: bytes) -> bytes | None:
        """The reply to one whole APDU (None: nothing to answer)."""
        try:
            if len(apdu) > self.device.settings.max_pdu_size:
                raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.PDU_TOO_LONG)
            return self._dispatch(bytes(apdu))
        except _Refused as refused:
            return refused.reply

    def _move(self, event: Event) -> None:
        self.state = TRANSITIONS[self.state][event]  # KeyError: a bug here, not bad input

    def _dispatch(self, apdu: bytes) -> bytes | None:
        if not apdu:
            raise _exception(apdus.SERVICE_UNKNOWN, apdus.SERVICE_NOT_SUPPORTED)
        tag = apdu[0]
        if tag == acse.ApplicationAssociationRequest.TAG:
            return self._associate(apdu)
        if tag == acse.ReleaseRequest.TAG:
            return self._release(apdu)
        if tag == apdus.GENERAL_GLO_CIPHER:
            if not self.ciphered or self.state is State.IDLE:
                raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.DECIPHERING_ERROR)
            return self._protect(self._xdlms(self._unprotect(apdu)))
        if tag in (192, 193, 195):
            if self.ciphered:
                # a ciphered context takes only general-glo-cipher APDUs
                raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.OPERATION_NOT_POSSIBLE)
            return self._xdlms(apdu)
        raise _exception(apdus.SERVICE_UNKNOWN, apdus.SERVICE_NOT_SUPPORTED)

    # -- association ----------------------------------------------------------------------

    def _aare(
        self,
        result: enums.AssociationResult,
        diagnostic: enums.AcseServiceUserDiagnostics | enums.AcseServiceProviderDiagnostics,
        user_information: acse.UserInformation | None = None,
        **extra: Any,
    ) -> bytes:
        return acse.ApplicationAssociationResponse(
            result=result,
            result_source_diagnostics=diagnostic,
            user_information=user_information,
            **extra,
        ).to_bytes()

    def _reject(
        self,
        diagnostic: enums.AcseServiceUserDiagnostics,
        initiate_error: enums.InitiateError | None = None,
    ) -> bytes:
        self._move(Event.REJECT)
        info = None
        if initiate_error is not None:
            info = acse.UserInformation(content=xdlms.ConfirmedServiceError(error=initiate_error))
        return self._aare(enums.AssociationResult.REJECTED_PERMANENT, diagnostic, info)

    def _associate(self, apdu: bytes) -> bytes:
        user = enums.AcseServiceUserDiagnostics
        if self.state is not State.IDLE:
            # one association per connection: release it before asking again
            self._move(Event.REJECT)
            return self._aare(enums.AssociationResult.REJECTED_TRANSIENT, user.NO_REASON_GIVEN)
        try:
            aarq = acse.ApplicationAssociationRequest.from_bytes(apdu)
        except Exception:  # dlms-cosem raises ValueError, IndexError, TypeError, ...
            return self._reject(user.NO_REASON_GIVEN)
        mechanism = aarq.authentication or enums.AuthenticationMechanism.NONE
        settings = self.device.settings
        level: Level
        if self.client_sap == PUBLIC_CLIENT:
            if mechanism is not enums.AuthenticationMechanism.NONE or aarq.ciphered:
                return self._reject(user.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED)
            level = Level.PUBLIC
        elif self.client_sap == MANAGEMENT_CLIENT:
            if mechanism is enums.AuthenticationMechanism.NONE:
                return self._reject(user.AUTHENTICATION_REQUIRED)
            if mechanism is enums.AuthenticationMechanism.LLS:
                found = _password_level(settings, bytes(aarq.authentication_value or b""))
                if found is None:
                    return self._reject(user.AUTHENTICATION_FAILED)
                level = found
            elif mechanism is enums.AuthenticationMechanism.HLS_GMAC and settings.hls:
                if not aarq.ciphered:
                    return self._reject(user.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
                challenge = bytes(aarq.authentication_value or b"")
                if not 8 <= len(challenge) <= 64:
                    return self._reject(user.AUTHENTICATION_FAILED)
                self._client_challenge = challenge
                level = Level.ADMIN
            else:
                return self._reject(user.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED)
        else:
            return self._reject(user.CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED)

        if aarq.ciphered and not settings.hls:
            return self._reject(user.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        content = aarq.user_information.content
        if aarq.ciphered:
            title = bytes(aarq.system_title or b"")
            if len(title) != 8 or not isinstance(content, xdlms.GlobalCipherInitiateRequest):
                return self._reject(user.CALLING_AP_TITLE_NOT_RECOGNIZED)
            self.client_title = title
            try:
                plain = self._decrypt(
                    content.security_control, content.invocation_counter, content.ciphered_text
                )
                # Saved now: a replay after a crash needs a new association, and the AARQ
                # counter it would need is on disk (and an HLS challenge is never reused).
                self.device.counters_changed = True
                content = xdlms.InitiateRequest.from_bytes(plain)
            except _Refused:
                return self._reject(user.AUTHENTICATION_FAILED)
            except Exception:
                return self._reject(user.NO_REASON_GIVEN)
        elif not isinstance(content, xdlms.InitiateRequest):
            return self._reject(user.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)

        if content.proposed_dlms_version_number < 6:
            return self._reject(user.NO_REASON_GIVEN, enums.InitiateError.DLMS_VERSION_TOO_LOW)
        pdu = content.client_max_receive_pdu_size or 0xFFFF
        if pdu < 12:
            return self._reject(user.NO_REASON_GIVEN, enums.InitiateError.PDU_SIZE_TOO_SHORT)
        negotiated = xdlms.Conformance(
            **{
                name: getattr(SUPPORTED, name) and getattr(content.proposed_conformance, name)
                for name in xdlms.Conformance.conformance_bit_position
            }
        )
        if not (negotiated.get or negotiated.set or negotiated.action):
            return self._reject(user.NO_REASON_GIVEN, enums.InitiateError.INCOMPATIBLE_CONFORMANCE)

        self.level = level
        self.ciphered = bool(aarq.ciphered)
        self.conformance = negotiated
        self.client_max_pdu = pdu
        initiate = xdlms.InitiateResponse(
            negotiated_conformance=negotiated, server_max_receive_pdu_size=settings.max_pdu_size
        )
        info_content: Any = initiate
        if self.ciphered:
            sc, ic, ciphered = self._encrypt(initiate.to_bytes())
            info_content = xdlms.GlobalCipherInitiateResponse(sc, ic, ciphered)
        extra: dict[str, Any] = {"ciphered": self.ciphered}
        if mechanism is enums.AuthenticationMechanism.HLS_GMAC:
            self._challenge = self.device.random_bytes(CHALLENGE_LENGTH)
            extra.update(
                authentication=mechanism,
                authentication_value=self._challenge,
                system_title=settings.system_title,
            )
            self._move(Event.ACCEPT_HLS)
        else:
            if mechanism is enums.AuthenticationMechanism.LLS:
                extra["authentication"] = mechanism
            if self.ciphered:
                extra["system_title"] = settings.system_title
            self._move(Event.ACCEPT)
        return self._aare(
            enums.AssociationResult.ACCEPTED,
            user.NULL,
            acse.UserInformation(content=info_content),
            **extra,
        )

    def _release(self, apdu: bytes) -> bytes:
        if self.ciphered:
            # a ciphered RLRQ carries a glo-initiateRequest: its counter is used up like any
            # other; a release is granted even when it does not decipher (the client leaves)
            try:
                content = acse.ReleaseRequest.from_bytes(apdu).user_information.content
                if isinstance(content, xdlms.GlobalCipherInitiateRequest):
                    self._decrypt(
                        content.security_control, content.invocation_counter, content.ciphered_text
                    )
            except (_Refused, Exception):
                pass
        self._move(Event.RELEASE)
        self.released = True
        self.level = Level.PUBLIC
        self._long_get = None
        rlre = acse.ReleaseResponse(reason=enums.ReleaseResponseReason.NORMAL).to_bytes()
        self.ciphered = False
        return rlre

    # -- ciphering ------------------------------------------------------------------------

    def _security_control(self) -> security.SecurityControlField:
        return security.SecurityControlField(SUITE_0, authenticated=True, encrypted=True)

    def _decrypt(self, sc: security.SecurityControlField, ic: int, ciphered: bytes) -> bytes:
        """The plaintext of a client APDU; refuses replays, other suites and bad tags."""
        settings = self.device.settings
        counters = self.device.counters
        if (
            sc.security_suite != SUITE_0
            or not (sc.authenticated and sc.encrypted)
            or sc.broadcast_key
        ):
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.DECIPHERING_ERROR)
        if ic < counters.client_next:
            raise _exception(
                apdus.SERVICE_NOT_ALLOWED, apdus.INVOCATION_COUNTER_ERROR, counters.client_next
            )
        assert settings.encryption_key is not None and settings.authentication_key is not None
        try:
            plain = security.decrypt(
                sc,
                self.client_title,
                ic,
                settings.encryption_key,
                ciphered,
                settings.authentication_key,
            )
        except (DecryptionError, ValueError):
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.DECIPHERING_ERROR) from None
        counters.client_next = ic + 1
        return bytes(plain)

    def _encrypt(self, plain: bytes) -> tuple[security.SecurityControlField, int, bytes]:
        settings = self.device.settings
        assert settings.encryption_key is not None and settings.authentication_key is not None
        sc = self._security_control()
        ic = self._next_server_ic()
        ciphered = security.encrypt(
            sc,
            settings.system_title,
            ic,
            settings.encryption_key,
            plain,
            settings.authentication_key,
        )
        return sc, ic, ciphered

    def _next_server_ic(self) -> int:
        counters = self.device.counters
        ic = counters.server
        if ic > 0xFFFFFFFF:  # the keys are used up: they must be changed
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.OTHER_REASON)
        counters.server += 1
        if counters.server % SAVE_EVERY == 0:
            self.device.counters_changed = True
        return ic

    def _unprotect(self, apdu: bytes) -> bytes:
        try:
            glo = xdlms.GeneralGlobalCipher.from_bytes(apdu)
        except Exception:
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.DECIPHERING_ERROR) from None
        if glo.system_title and bytes(glo.system_title) != self.client_title:
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.DECIPHERING_ERROR)
        return self._decrypt(glo.security_control, glo.invocation_counter, glo.ciphered_text)

    def _protect(self, reply: bytes) -> bytes:
        sc, ic, ciphered = self._encrypt(reply)
        return apdus.general_glo_cipher(self.device.settings.system_title, sc, ic, ciphered)

    # -- xDLMS services -------------------------------------------------------------------

    def _xdlms(self, apdu: bytes) -> bytes:
        if not apdu:
            raise _exception(apdus.SERVICE_UNKNOWN, apdus.SERVICE_NOT_SUPPORTED)
        tag = apdu[0]
        if tag not in (192, 193, 195):
            raise _exception(apdus.SERVICE_UNKNOWN, apdus.SERVICE_NOT_SUPPORTED)
        if self.state is State.AWAITING_HLS:
            if tag != 195:
                raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.OPERATION_NOT_POSSIBLE)
            return self._hls_reply(apdu)
        if self.state is not State.ASSOCIATED:
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.OPERATION_NOT_POSSIBLE)
        self._move(Event.REQUEST)
        try:
            if tag == 192 and apdu[1:2] == b"\x01":
                request: Any = _GetNormal.from_bytes(apdu)
            elif tag == 192:
                request = xdlms.GetRequestFactory.from_bytes(apdu)
            elif tag == 193:
                request = xdlms.SetRequestFactory.from_bytes(apdu)
            else:
                request = xdlms.ActionRequestFactory.from_bytes(apdu)
        except Exception:
            raise _exception(apdus.SERVICE_UNKNOWN, apdus.OTHER_REASON) from None
        if isinstance(request, xdlms.GetRequestNext):
            return self._get_next(request)
        self._long_get = None
        if isinstance(request, _GetNormal) and self.conformance.get:
            if request.selection is not None and not self.conformance.selective_access:
                raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.SERVICE_NOT_SUPPORTED)
            return self._get(request)
        if (
            isinstance(request, xdlms.GetRequestWithList)
            and self.conformance.get
            and self.conformance.multiple_references
        ):
            return self._get_with_list(request)
        if isinstance(request, xdlms.SetRequestNormal) and self.conformance.set:
            return self._set(request)
        if isinstance(request, xdlms.ActionRequestNormal) and self.conformance.action:
            return self._action(request)
        raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.SERVICE_NOT_SUPPORTED)

    def _context(self) -> Context:
        device = self.device
        now = device.now()
        if now > device.meter.clock:
            device.meter.advance(now)
            device.changed = True
        ctx = Context(
            device.meter,
            now,
            device.notes,
            {
                "level": int(self.level),
                "client_sap": self.client_sap,
                "server_sap": self.server_sap,
                "client_ic_next": device.counters.client_next,
            },
        )
        activate_when_due(ctx)  # a scheduled firmware activation whose time has come
        return ctx

    def _find(self, class_id: int, obis: tuple[int, ...]):  # type: ignore[no-untyped-def]
        obj = self.device.objects.find(obis)  # type: ignore[arg-type]
        if obj is None:
            raise DlmsError(f"no object {obis_text(obis)}", AccessResult.OBJECT_UNDEFINED)  # type: ignore[arg-type]
        if obj.class_id != class_id:
            raise DlmsError(
                f"{obis_text(obj.obis)} is class {obj.class_id}, not {class_id}",
                AccessResult.OBJECT_CLASS_INCONSISTENT,
            )
        return obj

    def _run(self, work: Callable[[Context], bytes | None]) -> tuple[AccessResult, bytes | None]:
        """Run a handler: its answer, or the access result its refusal names."""
        try:
            ctx = self._context()
            answer = work(ctx)
            if ctx.changed:
                self.device.changed = True
                self.device.after_change(ctx)
            return AccessResult.SUCCESS, answer
        except DlmsError as exc:
            return exc.result, None
        except StsError:
            return AccessResult.OTHER_REASON, None

    def _read(self, target: Any, access_selection: Any) -> tuple[AccessResult, bytes | None]:
        """One attribute's value, or the access result that refuses it."""

        def work(ctx: Context) -> bytes:
            obj = self._find(int(target.interface), _obis(target.instance))
            spec = obj.attributes.get(target.attribute)
            if spec is None:
                raise DlmsError("no such attribute", AccessResult.OBJECT_UNAVAILABLE)
            if self.level < spec.read:
                raise DlmsError("not readable at this level", AccessResult.READ_WRITE_DENIED)
            if access_selection is None:
                return spec.get(ctx)
            if spec.selective is None:
                raise DlmsError("no selective access", AccessResult.SCOPE_OF_ACCESS_VIOLATED)
            selector, parameters = access_selection
            return spec.selective(ctx, selector, parameters)

        return self._run(work)

    def _answer(self, invoke: InvokeIdAndPriority, reply: bytes, raw: bytes) -> bytes:
        """``reply``, or its ``raw`` data in blocks when it is too long for the client."""
        if len(reply) + self._overhead() <= self.client_max_pdu:
            return reply
        if not self.conformance.block_transfer_with_get_or_read:
            error = enums.DataAccessResult.OTHER_REASON
            return xdlms.GetResponseNormalWithError(
                error=error, invoke_id_and_priority=invoke
            ).to_bytes()
        self._long_get = _LongGet(invoke, raw, 0)
        return self._next_block()

    def _get(self, request: _GetNormal) -> bytes:
        invoke = request.invoke
        result, data = self._read(request.attribute, request.selection)
        if result is not AccessResult.SUCCESS or data is None:
            error = enums.DataAccessResult(int(result))
            return xdlms.GetResponseNormalWithError(
                error=error, invoke_id_and_priority=invoke
            ).to_bytes()
        return self._answer(invoke, apdus.get_response_normal(invoke, data), data)

    def _get_with_list(self, request: xdlms.GetRequestWithList) -> bytes:
        invoke = request.invoke_id_and_priority
        results: list[bytes | int] = []
        for item in request.cosem_attributes_with_selection:
            if item.access_selection is not None:
                results.append(int(AccessResult.SCOPE_OF_ACCESS_VIOLATED))
                continue
            result, data = self._read(item.attribute, None)
            results.append(
                data if result is AccessResult.SUCCESS and data is not None else int(result)
            )
        reply = apdus.get_response_with_list(invoke, results)
        return self._answer(invoke, reply, apdus.list_results(results))

    def _overhead(self) -> int:
        return 40 if self.ciphered else 0  # general-glo-cipher header and tag

    def _next_block(self) -> bytes:
        long_get = self._long_get
        assert long_get is not None
        size = max(self.client_max_pdu - self._overhead() - 16, 1)
        chunk, rest = long_get.data[:size], long_get.data[size:]
        long_get.block += 1
        long_get.data = rest
        if rest:
            return xdlms.GetResponseWithBlock(chunk, long_get.block, long_get.invoke).to_bytes()
        self._long_get = None
        return xdlms.GetResponseLastBlock(chunk, long_get.block, long_get.invoke).to_bytes()

    def _get_next(self, request: xdlms.GetRequestNext) -> bytes:
        long_get = self._long_get
        if long_get is None:
            error = enums.DataAccessResult.NO_LONG_GET_IN_PROGRESS
            return xdlms.GetResponseLastBlockWithError(
                error, request.block_number, request.invoke_id_and_priority
            ).to_bytes()
        if request.block_number != long_get.block:
            self._long_get = None
            error = enums.DataAccessResult.DATA_BLOCK_NUMBER_INVALID
            return xdlms.GetResponseLastBlockWithError(
                error, request.block_number, request.invoke_id_and_priority
            ).to_bytes()
        return self._next_block()

    def _set(self, request: xdlms.SetRequestNormal) -> bytes:
        target = request.cosem_attribute

        def work(ctx: Context) -> None:
            obj = self._find(int(target.interface), _obis(target.instance))
            spec = obj.attributes.get(target.attribute)
            if spec is None:
                raise DlmsError("no such attribute", AccessResult.OBJECT_UNAVAILABLE)
            if spec.set is None or self.level < spec.write:
                raise DlmsError("not writable at this level", AccessResult.READ_WRITE_DENIED)
            spec.set(ctx, axdr.decode(request.data))
            return None

        result, _ = self._run(work)
        return xdlms.SetResponseNormal(
            result=enums.DataAccessResult(int(result)),
            invoke_id_and_priority=request.invoke_id_and_priority,
        ).to_bytes()

    def _action(self, request: xdlms.ActionRequestNormal) -> bytes:
        target = request.cosem_method

        def work(ctx: Context) -> bytes | None:
            obj = self._find(int(target.interface), _obis(target.instance))
            spec = obj.methods.get(target.method)
            if spec is None:
                raise DlmsError("no such method", AccessResult.OBJECT_UNAVAILABLE)
            if self.level < spec.level:
                raise DlmsError("not allowed at this level", AccessResult.READ_WRITE_DENIED)
            value = None if request.data is None else axdr.decode(bytes(request.data))
            return spec.call(ctx, value)

        result, data = self._run(work)
        invoke = request.invoke_id_and_priority
        status = enums.ActionResultStatus(int(result))
        if data is not None:
            return xdlms.ActionResponseNormalWithData(status, data, invoke).to_bytes()
        return xdlms.ActionResponseNormal(status, invoke).to_bytes()

    # -- HLS pass 3 and 4 -----------------------------------------------------------------

    def _hls_reply(self, apdu: bytes) -> bytes:
        settings = self.device.settings
        assert settings.encryption_key is not None and settings.authentication_key is not None
        try:
            request = xdlms.ActionRequestFactory.from_bytes(apdu)
        except Exception:
            raise _exception(apdus.SERVICE_UNKNOWN, apdus.OTHER_REASON) from None
        invoke = request.invoke_id_and_priority
        method = request.cosem_method
        if (int(method.interface), _obis(method.instance), method.method) != (15, ASSOCIATION, 1):
            raise _exception(apdus.SERVICE_NOT_ALLOWED, apdus.OPERATION_NOT_POSSIBLE)
        try:
            value = axdr.decode(bytes(request.data or b""))
        except DlmsError:
            value = None
        reply = bytes(value.value) if isinstance(value, OctetStringData) else b""
        auth_only = security.SecurityControlField(SUITE_0, authenticated=True, encrypted=False)
        if len(reply) == 17 and reply[:1] == auth_only.to_bytes():
            ic = int.from_bytes(reply[1:5], "big")
            expected = security.gmac(
                auth_only,
                self.client_title,
                ic,
                settings.encryption_key,
                settings.authentication_key,
                self._challenge,
            )
            if expected == reply[5:]:
                self._move(Event.HLS_PASSED)
                server_ic = self._next_server_ic()
                answer = security.gmac(
                    auth_only,
                    settings.system_title,
                    server_ic,
                    settings.encryption_key,
                    settings.authentication_key,
                    self._client_challenge,
                )
                proof = auth_only.to_bytes() + server_ic.to_bytes(4, "big") + answer
                return xdlms.ActionResponseNormalWithData(
                    enums.ActionResultStatus.SUCCESS, axdr.octet_string(proof), invoke
                ).to_bytes()
        self._move(Event.HLS_FAILED)
        self.level = Level.PUBLIC
        return xdlms.ActionResponseNormal(
            enums.ActionResultStatus.READ_WRITE_DENIED, invoke
        ).to_bytes()


def _password_level(settings: SecuritySettings, given: bytes) -> Level | None:
    """The level ``given`` opens, compared in constant time against every password."""
    found = None
    for password, level in settings.passwords.items():
        if hmac.compare_digest(password, given):
            found = level
    return found


def _obis(instance: Any) -> tuple[int, int, int, int, int, int]:
    return (instance.a, instance.b, instance.c, instance.d, instance.e, instance.f)
