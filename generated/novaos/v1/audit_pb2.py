"""Generated protocol buffer code."""
from google.protobuf import descriptor as _descriptor
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import runtime_version as _runtime_version
from google.protobuf import symbol_database as _symbol_database
from google.protobuf.internal import builder as _builder
_runtime_version.ValidateProtobufRuntimeVersion(_runtime_version.Domain.PUBLIC, 5, 29, 0, '', 'novaos/v1/audit.proto')
_sym_db = _symbol_database.Default()
from google.api import annotations_pb2 as google_dot_api_dot_annotations__pb2
from google.protobuf import timestamp_pb2 as google_dot_protobuf_dot_timestamp__pb2
from google.rpc import status_pb2 as google_dot_rpc_dot_status__pb2
from ...novaos.v1 import chat_pb2 as novaos_dot_v1_dot_chat__pb2
DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\n\x15novaos/v1/audit.proto\x12\tnovaos.v1\x1a\x1cgoogle/api/annotations.proto\x1a\x1fgoogle/protobuf/timestamp.proto\x1a\x17google/rpc/status.proto\x1a\x14novaos/v1/chat.proto"O\n\tAuditGate\x12\x0c\n\x04gate\x18\x01 \x01(\t\x12\x10\n\x08decision\x18\x02 \x01(\t\x12\x0e\n\x06reason\x18\x03 \x01(\t\x12\x12\n\nlatency_ms\x18\x04 \x01(\x01"\xe1\x03\n\nAuditEvent\x12\n\n\x02id\x18\x01 \x01(\t\x12\x0b\n\x03seq\x18\x02 \x01(\x03\x12(\n\x04time\x18\x03 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12\x12\n\nrequest_id\x18\x04 \x01(\t\x12\x0c\n\x04user\x18\x05 \x01(\t\x12\x0c\n\x04tier\x18\x06 \x01(\t\x12\x0e\n\x06client\x18\x07 \x01(\t\x12\x0f\n\x07outcome\x18\x08 \x01(\t\x12\x0e\n\x06stance\x18\t \x01(\t\x12#\n\x05gates\x18\n \x03(\x0b2\x14.novaos.v1.AuditGate\x12\x10\n\x08provider\x18\x0b \x01(\t\x12\r\n\x05model\x18\x0c \x01(\t\x12\x14\n\x0cinput_tokens\x18\r \x01(\x03\x12\x15\n\routput_tokens\x18\x0e \x01(\x03\x12\x13\n\x0bduration_ms\x18\x0f \x01(\x01\x12\x15\n\rprompt_sha256\x18\x10 \x01(\t\x12\x17\n\x0freleased_sha256\x18\x11 \x01(\t\x12\x16\n\x0ereleased_chars\x18\x12 \x01(\x03\x12\x11\n\tprev_hash\x18\x13 \x01(\t\x12\x0c\n\x04hash\x18\x14 \x01(\t\x12\x16\n\x0epolicy_version\x18\x15 \x01(\t\x12\x16\n\x0ecanonical_json\x18\x16 \x01(\t\x12\x0e\n\x06key_id\x18\x17 \x01(\t"\xf6\x01\n\x16ListAuditEventsRequest\x12\x0c\n\x04user\x18\x01 \x01(\t\x12.\n\nstart_time\x18\x02 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12,\n\x08end_time\x18\x03 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12\x0f\n\x07outcome\x18\x04 \x01(\t\x12\x0e\n\x06stance\x18\x05 \x01(\t\x12\x15\n\rgate_decision\x18\x06 \x01(\t\x12\x11\n\tpage_size\x18\x07 \x01(\x05\x12\x12\n\npage_token\x18\x08 \x01(\t\x12\x11\n\tafter_seq\x18\t \x01(\x03"Y\n\x17ListAuditEventsResponse\x12%\n\x06events\x18\x01 \x03(\x0b2\x15.novaos.v1.AuditEvent\x12\x17\n\x0fnext_page_token\x18\x02 \x01(\t""\n\x14GetAuditEventRequest\x12\n\n\x02id\x18\x01 \x01(\t"=\n\x15GetAuditEventResponse\x12$\n\x05event\x18\x01 \x01(\x0b2\x15.novaos.v1.AuditEvent";\n\x17VerifyAuditChainRequest\x12\x10\n\x08from_seq\x18\x01 \x01(\x03\x12\x0e\n\x06to_seq\x18\x02 \x01(\x03"p\n\x18VerifyAuditChainResponse\x12\n\n\x02ok\x18\x01 \x01(\x08\x12\x0f\n\x07checked\x18\x02 \x01(\x03\x12\x15\n\rfirst_bad_seq\x18\x03 \x01(\x03\x12\x0f\n\x07problem\x18\x04 \x01(\t\x12\x0f\n\x07unkeyed\x18\x05 \x01(\x03"\x19\n\x17WatchAuditEventsRequest"\x8c\x01\n\x18WatchAuditEventsResponse\x12$\n\x05event\x18\x01 \x01(\x0b2\x15.novaos.v1.AuditEvent\x12\'\n\tkeepalive\x18\x02 \x01(\x0b2\x14.novaos.v1.Keepalive\x12!\n\x05error\x18\x03 \x01(\x0b2\x12.google.rpc.Status2\xf4\x03\n\x0cAuditService\x12v\n\x0fListAuditEvents\x12!.novaos.v1.ListAuditEventsRequest\x1a".novaos.v1.ListAuditEventsResponse"\x1c\x82\xd3\xe4\x93\x02\x16\x12\x14/api/v1/audit/events\x12u\n\rGetAuditEvent\x12\x1f.novaos.v1.GetAuditEventRequest\x1a .novaos.v1.GetAuditEventResponse"!\x82\xd3\xe4\x93\x02\x1b\x12\x19/api/v1/audit/events/{id}\x12y\n\x10VerifyAuditChain\x12".novaos.v1.VerifyAuditChainRequest\x1a#.novaos.v1.VerifyAuditChainResponse"\x1c\x82\xd3\xe4\x93\x02\x16\x12\x14/api/v1/audit/verify\x12z\n\x10WatchAuditEvents\x12".novaos.v1.WatchAuditEventsRequest\x1a#.novaos.v1.WatchAuditEventsResponse"\x1b\x82\xd3\xe4\x93\x02\x15\x12\x13/api/v1/audit/watch0\x01B\x14Z\x12novaos/v1;novaosv1b\x06proto3')
_globals = globals()
_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'novaos.v1.audit_pb2', _globals)
if not _descriptor._USE_C_DESCRIPTORS:
    _globals['DESCRIPTOR']._loaded_options = None
    _globals['DESCRIPTOR']._serialized_options = b'Z\x12novaos/v1;novaosv1'
    _globals['_AUDITSERVICE'].methods_by_name['ListAuditEvents']._loaded_options = None
    _globals['_AUDITSERVICE'].methods_by_name['ListAuditEvents']._serialized_options = b'\x82\xd3\xe4\x93\x02\x16\x12\x14/api/v1/audit/events'
    _globals['_AUDITSERVICE'].methods_by_name['GetAuditEvent']._loaded_options = None
    _globals['_AUDITSERVICE'].methods_by_name['GetAuditEvent']._serialized_options = b'\x82\xd3\xe4\x93\x02\x1b\x12\x19/api/v1/audit/events/{id}'
    _globals['_AUDITSERVICE'].methods_by_name['VerifyAuditChain']._loaded_options = None
    _globals['_AUDITSERVICE'].methods_by_name['VerifyAuditChain']._serialized_options = b'\x82\xd3\xe4\x93\x02\x16\x12\x14/api/v1/audit/verify'
    _globals['_AUDITSERVICE'].methods_by_name['WatchAuditEvents']._loaded_options = None
    _globals['_AUDITSERVICE'].methods_by_name['WatchAuditEvents']._serialized_options = b'\x82\xd3\xe4\x93\x02\x15\x12\x13/api/v1/audit/watch'
    _globals['_AUDITGATE']._serialized_start = 146
    _globals['_AUDITGATE']._serialized_end = 225
    _globals['_AUDITEVENT']._serialized_start = 228
    _globals['_AUDITEVENT']._serialized_end = 709
    _globals['_LISTAUDITEVENTSREQUEST']._serialized_start = 712
    _globals['_LISTAUDITEVENTSREQUEST']._serialized_end = 958
    _globals['_LISTAUDITEVENTSRESPONSE']._serialized_start = 960
    _globals['_LISTAUDITEVENTSRESPONSE']._serialized_end = 1049
    _globals['_GETAUDITEVENTREQUEST']._serialized_start = 1051
    _globals['_GETAUDITEVENTREQUEST']._serialized_end = 1085
    _globals['_GETAUDITEVENTRESPONSE']._serialized_start = 1087
    _globals['_GETAUDITEVENTRESPONSE']._serialized_end = 1148
    _globals['_VERIFYAUDITCHAINREQUEST']._serialized_start = 1150
    _globals['_VERIFYAUDITCHAINREQUEST']._serialized_end = 1209
    _globals['_VERIFYAUDITCHAINRESPONSE']._serialized_start = 1211
    _globals['_VERIFYAUDITCHAINRESPONSE']._serialized_end = 1323
    _globals['_WATCHAUDITEVENTSREQUEST']._serialized_start = 1325
    _globals['_WATCHAUDITEVENTSREQUEST']._serialized_end = 1350
    _globals['_WATCHAUDITEVENTSRESPONSE']._serialized_start = 1353
    _globals['_WATCHAUDITEVENTSRESPONSE']._serialized_end = 1493
    _globals['_AUDITSERVICE']._serialized_start = 1496
    _globals['_AUDITSERVICE']._serialized_end = 1996