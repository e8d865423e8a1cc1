"""The simulated meter on the network: a DLMS/COSEM server (IEC 62056).

Built on dlms-cosem's encoders (A-XDR, APDUs, AARQ/AARE, GMAC) with the few
server-side pieces it lacks here:

* :mod:`sts.meter.dlms.server`: the sans-IO core (APDUs in, APDUs out),
  associations as a transition table, GET/SET/ACTION, ciphering, HLS;
* :mod:`sts.meter.dlms.model` and :mod:`sts.meter.dlms.objects`: the COSEM
  object model and the table of the meter's objects (OBIS -> class,
  attributes, methods);
* :mod:`sts.meter.dlms.axdr` and :mod:`sts.meter.dlms.apdus`: encodings the
  server writes that dlms-cosem does not get right from the server's side;
* :mod:`sts.meter.dlms.wrapper` and :mod:`sts.meter.dlms.tcp`: the TCP
  wrapper transport (IEC 62056-47) apart from the core.
"""
