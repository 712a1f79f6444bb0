"""Generated protocol buffer code."""
from google.protobuf import descriptor as _descriptor
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import runtime_version as _runtime_version
from google.protobuf import symbol_database as _symbol_database
from google.protobuf.internal import builder as _builder
_runtime_version.ValidateProtobufRuntimeVersion(_runtime_version.Domain.PUBLIC, 5, 29, 0, '', 'novaos/v1/chat.proto')
_sym_db = _symbol_database.Default()
from google.api import annotations_pb2 as google_dot_api_dot_annotations__pb2
from google.api import field_behavior_pb2 as google_dot_api_dot_field__behavior__pb2
DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\n\x14novaos/v1/chat.proto\x12\tnovaos.v1\x1a\x1cgoogle/api/annotations.proto\x1a\x1fgoogle/api/field_behavior.proto"r\n\x11GenerationOptions\x12\x10\n\x08provider\x18\x01 \x01(\t\x12\r\n\x05model\x18\x02 \x01(\t\x12\x12\n\nmax_tokens\x18\x03 \x01(\x05\x12\x18\n\x0btemperature\x18\x04 \x01(\x02H\x00\x88\x01\x01B\x0e\n\x0c_temperature"\x9f\x01\n\x11StreamChatRequest\x12\x14\n\x07message\x18\x01 \x01(\tB\x03\xe0A\x02\x12\x17\n\x0fconversation_id\x18\x02 \x01(\t\x12\x11\n\tack_token\x18\x03 \x01(\t\x12-\n\x07options\x18\x04 \x01(\x0b2\x1c.novaos.v1.GenerationOptions\x12\x19\n\x11requested_actions\x18\x05 \x03(\t"\x99\x01\n\x0bChatRequest\x12\x14\n\x07message\x18\x01 \x01(\tB\x03\xe0A\x02\x12\x17\n\x0fconversation_id\x18\x02 \x01(\t\x12\x11\n\tack_token\x18\x03 \x01(\t\x12-\n\x07options\x18\x04 \x01(\x0b2\x1c.novaos.v1.GenerationOptions\x12\x19\n\x11requested_actions\x18\x05 \x03(\t"6\n\x07Started\x12\x12\n\nrequest_id\x18\x01 \x01(\t\x12\x17\n\x0fconversation_id\x18\x02 \x01(\t"h\n\tGateEvent\x12\x0c\n\x04gate\x18\x01 \x01(\t\x12)\n\x08decision\x18\x02 \x01(\x0e2\x17.novaos.v1.GateDecision\x12\x0e\n\x06reason\x18\x03 \x01(\t\x12\x12\n\nlatency_ms\x18\x04 \x01(\x01"\x15\n\x05Delta\x12\x0c\n\x04text\x18\x01 \x01(\t"U\n\x0bAckRequired\x12\r\n\x05token\x18\x01 \x01(\t\x12\x0e\n\x06prompt\x18\x02 \x01(\t\x12\x17\n\x0fexpires_at_unix\x18\x03 \x01(\x03\x12\x0e\n\x06reason\x18\x04 \x01(\t"4\n\x05Usage\x12\x14\n\x0cinput_tokens\x18\x01 \x01(\x03\x12\x15\n\routput_tokens\x18\x02 \x01(\x03"(\n\x05Spark\x12\x0e\n\x06action\x18\x01 \x01(\t\x12\x0f\n\x07minutes\x18\x02 \x01(\x05"\xa3\x02\n\tCompleted\x12#\n\x07outcome\x18\x01 \x01(\x0e2\x12.novaos.v1.Outcome\x12!\n\x06stance\x18\x02 \x01(\x0e2\x11.novaos.v1.Stance\x12\x1f\n\x05usage\x18\x03 \x01(\x0b2\x10.novaos.v1.Usage\x12\x16\n\x0egates_executed\x18\x04 \x03(\t\x12\x12\n\nrequest_id\x18\x05 \x01(\t\x12\x10\n\x08provider\x18\x06 \x01(\t\x12\r\n\x05model\x18\x07 \x01(\t\x12\x1f\n\x05spark\x18\x08 \x01(\x0b2\x10.novaos.v1.Spark\x12\x0e\n\x06detail\x18\t \x01(\t\x12\x17\n\x0fconversation_id\x18\n \x01(\t\x12\x16\n\x0ereleased_chars\x18\x0b \x01(\x03"\x0b\n\tKeepalive"\x93\x02\n\x12StreamChatResponse\x12%\n\x07started\x18\x01 \x01(\x0b2\x12.novaos.v1.StartedH\x00\x12$\n\x04gate\x18\x02 \x01(\x0b2\x14.novaos.v1.GateEventH\x00\x12!\n\x05delta\x18\x03 \x01(\x0b2\x10.novaos.v1.DeltaH\x00\x12.\n\x0cack_required\x18\x04 \x01(\x0b2\x16.novaos.v1.AckRequiredH\x00\x12)\n\tcompleted\x18\x05 \x01(\x0b2\x14.novaos.v1.CompletedH\x00\x12)\n\tkeepalive\x18\x06 \x01(\x0b2\x14.novaos.v1.KeepaliveH\x00B\x07\n\x05event"\xef\x02\n\x0cChatResponse\x12\x0c\n\x04text\x18\x01 \x01(\t\x12#\n\x07outcome\x18\x02 \x01(\x0e2\x12.novaos.v1.Outcome\x12!\n\x06stance\x18\x03 \x01(\x0e2\x11.novaos.v1.Stance\x12\x1f\n\x05usage\x18\x04 \x01(\x0b2\x10.novaos.v1.Usage\x12\x16\n\x0egates_executed\x18\x05 \x03(\t\x12\x12\n\nrequest_id\x18\x06 \x01(\t\x12\x10\n\x08provider\x18\x07 \x01(\t\x12\r\n\x05model\x18\x08 \x01(\t\x12#\n\x05gates\x18\t \x03(\x0b2\x14.novaos.v1.GateEvent\x12,\n\x0cack_required\x18\n \x01(\x0b2\x16.novaos.v1.AckRequired\x12\x1f\n\x05spark\x18\x0b \x01(\x0b2\x10.novaos.v1.Spark\x12\x0e\n\x06detail\x18\x0c \x01(\t\x12\x17\n\x0fconversation_id\x18\r \x01(\t"-\n\x18ListConversationsRequest\x12\x11\n\tpage_size\x18\x01 \x01(\x05"[\n\x13ConversationSummary\x12\x17\n\x0fconversation_id\x18\x01 \x01(\t\x12\x12\n\nturn_count\x18\x02 \x01(\x05\x12\x17\n\x0fupdated_at_unix\x18\x03 \x01(\x03"R\n\x19ListConversationsResponse\x125\n\rconversations\x18\x01 \x03(\x0b2\x1e.novaos.v1.ConversationSummary"1\n\x16GetConversationRequest\x12\x17\n\x0fconversation_id\x18\x01 \x01(\t"p\n\x04Turn\x12\x0c\n\x04role\x18\x01 \x01(\t\x12\x0c\n\x04text\x18\x02 \x01(\t\x12\x17\n\x0fcreated_at_unix\x18\x03 \x01(\x03\x12#\n\x07outcome\x18\x04 \x01(\x0e2\x12.novaos.v1.Outcome\x12\x0e\n\x06detail\x18\x05 \x01(\t"i\n\x17GetConversationResponse\x12\x17\n\x0fconversation_id\x18\x01 \x01(\t\x12\x1e\n\x05turns\x18\x02 \x03(\x0b2\x0f.novaos.v1.Turn\x12\x15\n\romitted_turns\x18\x03 \x01(\x05"4\n\x19DeleteConversationRequest\x12\x17\n\x0fconversation_id\x18\x01 \x01(\t"\x1c\n\x1aDeleteConversationResponse*\xe6\x01\n\x07Outcome\x12\x17\n\x13OUTCOME_UNSPECIFIED\x10\x00\x12\x15\n\x11OUTCOME_COMPLETED\x10\x01\x12\x13\n\x0fOUTCOME_CONTROL\x10\x02\x12\x15\n\x11OUTCOME_HARD_VETO\x10\x03\x12\x18\n\x14OUTCOME_ACK_REQUIRED\x10\x04\x12\x1a\n\x16OUTCOME_OUTPUT_BLOCKED\x10\x05\x12\x1e\n\x1aOUTCOME_UPSTREAM_TRUNCATED\x10\x06\x12\x15\n\x11OUTCOME_CANCELLED\x10\x07\x12\x12\n\x0eOUTCOME_FAILED\x10\x08*j\n\x06Stance\x12\x16\n\x12STANCE_UNSPECIFIED\x10\x00\x12\x12\n\x0eSTANCE_CONTROL\x10\x01\x12\x11\n\rSTANCE_SHIELD\x10\x02\x12\x0f\n\x0bSTANCE_LENS\x10\x03\x12\x10\n\x0cSTANCE_SWORD\x10\x04*\xe3\x01\n\x0cGateDecision\x12\x1d\n\x19GATE_DECISION_UNSPECIFIED\x10\x00\x12\x16\n\x12GATE_DECISION_PASS\x10\x01\x12\x16\n\x12GATE_DECISION_FLAG\x10\x02\x12\x19\n\x15GATE_DECISION_DEGRADE\x10\x03\x12\x16\n\x12GATE_DECISION_STOP\x10\x04\x12\x1b\n\x17GATE_DECISION_AWAIT_ACK\x10\x05\x12\x1c\n\x18GATE_DECISION_REGENERATE\x10\x06\x12\x16\n\x12GATE_DECISION_EDIT\x10\x072\xec\x04\n\x0bChatService\x12k\n\nStreamChat\x12\x1c.novaos.v1.StreamChatRequest\x1a\x1d.novaos.v1.StreamChatResponse"\x1e\x82\xd3\xe4\x93\x02\x18"\x13/api/v1/chat/stream:\x01*0\x01\x12P\n\x04Chat\x12\x16.novaos.v1.ChatRequest\x1a\x17.novaos.v1.ChatResponse"\x17\x82\xd3\xe4\x93\x02\x11"\x0c/api/v1/chat:\x01*\x12}\n\x11ListConversations\x12#.novaos.v1.ListConversationsRequest\x1a$.novaos.v1.ListConversationsResponse"\x1d\x82\xd3\xe4\x93\x02\x17\x12\x15/api/v1/conversations\x12\x89\x01\n\x0fGetConversation\x12!.novaos.v1.GetConversationRequest\x1a".novaos.v1.GetConversationResponse"/\x82\xd3\xe4\x93\x02)\x12\'/api/v1/conversations/{conversation_id}\x12\x92\x01\n\x12DeleteConversation\x12$.novaos.v1.DeleteConversationRequest\x1a%.novaos.v1.DeleteConversationResponse"/\x82\xd3\xe4\x93\x02)*\'/api/v1/conversations/{conversation_id}B\x14Z\x12novaos/v1;novaosv1b\x06proto3')
_globals = globals()
_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'novaos.v1.chat_pb2', _globals)
if not _descriptor._USE_C_DESCRIPTORS:
    _globals['DESCRIPTOR']._loaded_options = None
    _globals['DESCRIPTOR']._serialized_options = b'Z\x12novaos/v1;novaosv1'
    _globals['_STREAMCHATREQUEST'].fields_by_name['message']._loaded_options = None
    _globals['_STREAMCHATREQUEST'].fields_by_name['message']._serialized_options = b'\xe0A\x02'
    _globals['_CHATREQUEST'].fields_by_name['message']._loaded_options = None
    _globals['_CHATREQUEST'].fields_by_name['message']._serialized_options = b'\xe0A\x02'
    _globals['_CHATSERVICE'].methods_by_name['StreamChat']._loaded_options = None
    _globals['_CHATSERVICE'].methods_by_name['StreamChat']._serialized_options = b'\x82\xd3\xe4\x93\x02\x18"\x13/api/v1/chat/stream:\x01*'
    _globals['_CHATSERVICE'].methods_by_name['Chat']._loaded_options = None
    _globals['_CHATSERVICE'].methods_by_name['Chat']._serialized_options = b'\x82\xd3\xe4\x93\x02\x11"\x0c/api/v1/chat:\x01*'
    _globals['_CHATSERVICE'].methods_by_name['ListConversations']._loaded_options = None
    _globals['_CHATSERVICE'].methods_by_name['ListConversations']._serialized_options = b'\x82\xd3\xe4\x93\x02\x17\x12\x15/api/v1/conversations'
    _globals['_CHATSERVICE'].methods_by_name['GetConversation']._loaded_options = None
    _globals['_CHATSERVICE'].methods_by_name['GetConversation']._serialized_options = b"\x82\xd3\xe4\x93\x02)\x12'/api/v1/conversations/{conversation_id}"
    _globals['_CHATSERVICE'].methods_by_name['DeleteConversation']._loaded_options = None
    _globals['_CHATSERVICE'].methods_by_name['DeleteConversation']._serialized_options = b"\x82\xd3\xe4\x93\x02)*'/api/v1/conversations/{conversation_id}"
    _globals['_OUTCOME']._serialized_start = 2436
    _globals['_OUTCOME']._serialized_end = 2666
    _globals['_STANCE']._serialized_start = 2668
    _globals['_STANCE']._serialized_end = 2774
    _globals['_GATEDECISION']._serialized_start = 2777
    _globals['_GATEDECISION']._serialized_end = 3004
    _globals['_GENERATIONOPTIONS']._serialized_start = 98
    _globals['_GENERATIONOPTIONS']._serialized_end = 212
    _globals['_STREAMCHATREQUEST']._serialized_start = 215
    _globals['_STREAMCHATREQUEST']._serialized_end = 374
    _globals['_CHATREQUEST']._serialized_start = 377
    _globals['_CHATREQUEST']._serialized_end = 530
    _globals['_STARTED']._serialized_start = 532
    _globals['_STARTED']._serialized_end = 586
    _globals['_GATEEVENT']._serialized_start = 588
    _globals['_GATEEVENT']._serialized_end = 692
    _globals['_DELTA']._serialized_start = 694
    _globals['_DELTA']._serialized_end = 715
    _globals['_ACKREQUIRED']._serialized_start = 717
    _globals['_ACKREQUIRED']._serialized_end = 802
    _globals['_USAGE']._serialized_start = 804
    _globals['_USAGE']._serialized_end = 856
    _globals['_SPARK']._serialized_start = 858
    _globals['_SPARK']._serialized_end = 898
    _globals['_COMPLETED']._serialized_start = 901
    _globals['_COMPLETED']._serialized_end = 1192
    _globals['_KEEPALIVE']._serialized_start = 1194
    _globals['_KEEPALIVE']._serialized_end = 1205
    _globals['_STREAMCHATRESPONSE']._serialized_start = 1208
    _globals['_STREAMCHATRESPONSE']._serialized_end = 1483
    _globals['_CHATRESPONSE']._serialized_start = 1486
    _globals['_CHATRESPONSE']._serialized_end = 1853
    _globals['_LISTCONVERSATIONSREQUEST']._serialized_start = 1855
    _globals['_LISTCONVERSATIONSREQUEST']._serialized_end = 1900
    _globals['_CONVERSATIONSUMMARY']._serialized_start = 1902
    _globals['_CONVERSATIONSUMMARY']._serialized_end = 1993
    _globals['_LISTCONVERSATIONSRESPONSE']._serialized_start = 1995
    _globals['_LISTCONVERSATIONSRESPONSE']._serialized_end = 2077
    _globals['_GETCONVERSATIONREQUEST']._serialized_start = 2079
    _globals['_GETCONVERSATIONREQUEST']._serialized_end = 2128
    _globals['_TURN']._serialized_start = 2130
    _globals['_TURN']._serialized_end = 2242
    _globals['_GETCONVERSATIONRESPONSE']._serialized_start = 2244
    _globals['_GETCONVERSATIONRESPONSE']._serialized_end = 2349
    _globals['_DELETECONVERSATIONREQUEST']._serialized_start = 2351
    _globals['_DELETECONVERSATIONREQUEST']._serialized_end = 2403
    _globals['_DELETECONVERSATIONRESPONSE']._serialized_start = 2405
    _globals['_DELETECONVERSATIONRESPONSE']._serialized_end = 2433
    _globals['_CHATSERVICE']._serialized_start = 3007
    _globals['_CHATSERVICE']._serialized_end = 3627