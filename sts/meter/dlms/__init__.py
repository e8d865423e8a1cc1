"""The simulated meter on the network: a DLMS/COSEM server (IEC 62056).

Built on dlms-cosem's encoders (A-XDR, APDUs, AARQ/AARE, GMAC) with the few
server-side pieces it lacks here:

* :mod:`sts.meter.dlms.server`: the sans-IO core (APDUs in, APDUs out),
  associations as a transition table, GET/SET/ACTION, ciphering, HLS, over a
  :mod:`~sts.meter.dlms.device` (the meter, its settings and counters);
* :mod:`sts.meter.dlms.model` and :mod:`sts.meter.dlms.objects`: the COSEM
  object model and the table of the meter's objects (OBIS -> class,
  attributes, methods), built from :mod:`~sts.meter.dlms.basic`,
  :mod:`~sts.meter.dlms.payment`, :mod:`~sts.meter.dlms.charge`,
  :mod:`~sts.meter.dlms.logs` and :mod:`~sts.meter.dlms.surveys` (on the
  generic :mod:`~sts.meter.dlms.profile`), :mod:`~sts.meter.dlms.tou` (the
  calendar) and :mod:`~sts.meter.dlms.push`;
* :mod:`sts.meter.dlms.axdr` and :mod:`sts.meter.dlms.apdus`: encodings the
  server writes that dlms-cosem does not get right from the server's side;
* :mod:`sts.meter.dlms.wrapper`, :mod:`sts.meter.dlms.hdlc`,
  :mod:`sts.meter.dlms.tcp` and :mod:`sts.meter.dlms.pty`: the transports
  (TCP wrapper of IEC 62056-47, HDLC of IEC 62056-46 on TCP or a
  pseudo-terminal) apart from the core;
* :mod:`sts.meter.dlms.serving`, :mod:`~sts.meter.dlms.files`,
  :mod:`~sts.meter.dlms.lock`, :mod:`~sts.meter.dlms.fleet`: ``sts meter
  serve`` and ``sts meter fleet new`` (state, settings, lock files);
* :mod:`sts.meter.dlms.client`: ``sts dlms``, on dlms-cosem's client.
"""
