"""Generated protocol buffer code."""
from google.protobuf import descriptor as _descriptor
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import runtime_version as _runtime_version
from google.protobuf import symbol_database as _symbol_database
from google.protobuf.internal import builder as _builder
_runtime_version.ValidateProtobufRuntimeVersion(_runtime_version.Domain.PUBLIC, 5, 29, 0, '', 'novaos/v1/health.proto')
_sym_db = _symbol_database.Default()
from google.api import annotations_pb2 as google_dot_api_dot_annotations__pb2
DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\n\x16novaos/v1/health.proto\x12\tnovaos.v1\x1a\x1cgoogle/api/annotations.proto"\r\n\x0bLiveRequest"\x1e\n\x0cLiveResponse\x12\x0e\n\x06status\x18\x01 \x01(\t"\x0e\n\x0cReadyRequest"\x84\x01\n\rReadyResponse\x12\x0e\n\x06status\x18\x01 \x01(\t\x124\n\x06checks\x18\x02 \x03(\x0b2$.novaos.v1.ReadyResponse.ChecksEntry\x1a-\n\x0bChecksEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12\r\n\x05value\x18\x02 \x01(\t:\x028\x01"\x12\n\x10GetHealthRequest"x\n\x07Circuit\x12\x10\n\x08provider\x18\x01 \x01(\t\x12&\n\x05state\x18\x02 \x01(\x0e2\x17.novaos.v1.CircuitState\x12\x1c\n\x14consecutive_failures\x18\x03 \x01(\x05\x12\x15\n\rretry_at_unix\x18\x04 \x01(\x01"D\n\rStorageHealth\x12\x0f\n\x07backend\x18\x01 \x01(\t\x12\x0e\n\x06status\x18\x02 \x01(\t\x12\x12\n\nlatency_ms\x18\x03 \x01(\x01"A\n\x0eProviderHealth\x12\x0c\n\x04name\x18\x01 \x01(\t\x12\r\n\x05model\x18\x02 \x01(\t\x12\x12\n\nconfigured\x18\x03 \x01(\x08"f\n\x0bAuditHealth\x12\x0c\n\x04sink\x18\x01 \x01(\t\x12\x0e\n\x06status\x18\x02 \x01(\t\x12\x13\n\x0bqueue_depth\x18\x03 \x01(\x03\x12\x0f\n\x07spilled\x18\x04 \x01(\x03\x12\x13\n\x0bquarantined\x18\x05 \x01(\x03"\xec\x01\n\x11GetHealthResponse\x12\x0e\n\x06status\x18\x01 \x01(\t\x12\x0f\n\x07version\x18\x02 \x01(\t\x12\x10\n\x08uptime_s\x18\x03 \x01(\x01\x12)\n\x07storage\x18\x04 \x01(\x0b2\x18.novaos.v1.StorageHealth\x12,\n\tproviders\x18\x05 \x03(\x0b2\x19.novaos.v1.ProviderHealth\x12$\n\x08circuits\x18\x06 \x03(\x0b2\x12.novaos.v1.Circuit\x12%\n\x05audit\x18\x07 \x01(\x0b2\x16.novaos.v1.AuditHealth"\x15\n\x13ListCircuitsRequest"<\n\x14ListCircuitsResponse\x12$\n\x08circuits\x18\x01 \x03(\x0b2\x12.novaos.v1.Circuit"\'\n\x13ResetCircuitRequest\x12\x10\n\x08provider\x18\x01 \x01(\t";\n\x14ResetCircuitResponse\x12#\n\x07circuit\x18\x01 \x01(\x0b2\x12.novaos.v1.Circuit*|\n\x0cCircuitState\x12\x1d\n\x19CIRCUIT_STATE_UNSPECIFIED\x10\x00\x12\x18\n\x14CIRCUIT_STATE_CLOSED\x10\x01\x12\x16\n\x12CIRCUIT_STATE_OPEN\x10\x02\x12\x1b\n\x17CIRCUIT_STATE_HALF_OPEN\x10\x032\xbd\x04\n\rHealthService\x12[\n\x04Live\x12\x16.novaos.v1.LiveRequest\x1a\x17.novaos.v1.LiveResponse""\x82\xd3\xe4\x93\x02\x1c\x12\x07/healthZ\x11B\x0f\n\x04HEAD\x12\x07/health\x12\\\n\x05Ready\x12\x17.novaos.v1.ReadyRequest\x1a\x18.novaos.v1.ReadyResponse" \x82\xd3\xe4\x93\x02\x1a\x12\x06/readyZ\x10B\x0e\n\x04HEAD\x12\x06/ready\x12x\n\tGetHealth\x12\x1b.novaos.v1.GetHealthRequest\x1a\x1c.novaos.v1.GetHealthResponse"0\x82\xd3\xe4\x93\x02*\x12\x0e/api/v1/healthZ\x18B\x16\n\x04HEAD\x12\x0e/api/v1/health\x12p\n\x0cListCircuits\x12\x1e.novaos.v1.ListCircuitsRequest\x1a\x1f.novaos.v1.ListCircuitsResponse"\x1f\x82\xd3\xe4\x93\x02\x19\x12\x17/api/v1/health/circuits\x12\x84\x01\n\x0cResetCircuit\x12\x1e.novaos.v1.ResetCircuitRequest\x1a\x1f.novaos.v1.ResetCircuitResponse"3\x82\xd3\xe4\x93\x02-"(/api/v1/health/circuits/{provider}:reset:\x01*B\x14Z\x12novaos/v1;novaosv1b\x06proto3')
_globals = globals()
_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'novaos.v1.health_pb2', _globals)
if not _descriptor._USE_C_DESCRIPTORS:
    _globals['DESCRIPTOR']._loaded_options = None
    _globals['DESCRIPTOR']._serialized_options = b'Z\x12novaos/v1;novaosv1'
    _globals['_READYRESPONSE_CHECKSENTRY']._loaded_options = None
    _globals['_READYRESPONSE_CHECKSENTRY']._serialized_options = b'8\x01'
    _globals['_HEALTHSERVICE'].methods_by_name['Live']._loaded_options = None
    _globals['_HEALTHSERVICE'].methods_by_name['Live']._serialized_options = b'\x82\xd3\xe4\x93\x02\x1c\x12\x07/healthZ\x11B\x0f\n\x04HEAD\x12\x07/health'
    _globals['_HEALTHSERVICE'].methods_by_name['Ready']._loaded_options = None
    _globals['_HEALTHSERVICE'].methods_by_name['Ready']._serialized_options = b'\x82\xd3\xe4\x93\x02\x1a\x12\x06/readyZ\x10B\x0e\n\x04HEAD\x12\x06/ready'
    _globals['_HEALTHSERVICE'].methods_by_name['GetHealth']._loaded_options = None
    _globals['_HEALTHSERVICE'].methods_by_name['GetHealth']._serialized_options = b'\x82\xd3\xe4\x93\x02*\x12\x0e/api/v1/healthZ\x18B\x16\n\x04HEAD\x12\x0e/api/v1/health'
    _globals['_HEALTHSERVICE'].methods_by_name['ListCircuits']._loaded_options = None
    _globals['_HEALTHSERVICE'].methods_by_name['ListCircuits']._serialized_options = b'\x82\xd3\xe4\x93\x02\x19\x12\x17/api/v1/health/circuits'
    _globals['_HEALTHSERVICE'].methods_by_name['ResetCircuit']._loaded_options = None
    _globals['_HEALTHSERVICE'].methods_by_name['ResetCircuit']._serialized_options = b'\x82\xd3\xe4\x93\x02-"(/api/v1/health/circuits/{provider}:reset:\x01*'
    _globals['_CIRCUITSTATE']._serialized_start = 1074
    _globals['_CIRCUITSTATE']._serialized_end = 1198
    _globals['_LIVEREQUEST']._serialized_start = 67
    _globals['_LIVEREQUEST']._serialized_end = 80
    _globals['_LIVERESPONSE']._serialized_start = 82
    _globals['_LIVERESPONSE']._serialized_end = 112
    _globals['_READYREQUEST']._serialized_start = 114
    _globals['_READYREQUEST']._serialized_end = 128
    _globals['_READYRESPONSE']._serialized_start = 131
    _globals['_READYRESPONSE']._serialized_end = 263
    _globals['_READYRESPONSE_CHECKSENTRY']._serialized_start = 218
    _globals['_READYRESPONSE_CHECKSENTRY']._serialized_end = 263
    _globals['_GETHEALTHREQUEST']._serialized_start = 265
    _globals['_GETHEALTHREQUEST']._serialized_end = 283
    _globals['_CIRCUIT']._serialized_start = 285
    _globals['_CIRCUIT']._serialized_end = 405
    _globals['_STORAGEHEALTH']._serialized_start = 407
    _globals['_STORAGEHEALTH']._serialized_end = 475
    _globals['_PROVIDERHEALTH']._serialized_start = 477
    _globals['_PROVIDERHEALTH']._serialized_end = 542
    _globals['_AUDITHEALTH']._serialized_start = 544
    _globals['_AUDITHEALTH']._serialized_end = 646
    _globals['_GETHEALTHRESPONSE']._serialized_start = 649
    _globals['_GETHEALTHRESPONSE']._serialized_end = 885
    _globals['_LISTCIRCUITSREQUEST']._serialized_start = 887
    _globals['_LISTCIRCUITSREQUEST']._serialized_end = 908
    _globals['_LISTCIRCUITSRESPONSE']._serialized_start = 910
    _globals['_LISTCIRCUITSRESPONSE']._serialized_end = 970
    _globals['_RESETCIRCUITREQUEST']._serialized_start = 972
    _globals['_RESETCIRCUITREQUEST']._serialized_end = 1011
    _globals['_RESETCIRCUITRESPONSE']._serialized_start = 1013
    _globals['_RESETCIRCUITRESPONSE']._serialized_end = 1072
    _globals['_HEALTHSERVICE']._serialized_start = 1201
    _globals['_HEALTHSERVICE']._serialized_end = 1774