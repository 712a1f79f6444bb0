"""Client and server classes corresponding to protobuf-defined services."""
import grpc
import warnings
from ...novaos.v1 import chat_pb2 as novaos_dot_v1_dot_chat__pb2
GRPC_GENERATED_VERSION = '1.71.2'
GRPC_VERSION = grpc.__version__
_version_not_supported = False
try:
    from grpc._utilities import first_version_is_lower
    _version_not_supported = first_version_is_lower(GRPC_VERSION, GRPC_GENERATED_VERSION)
except ImportError:
    _version_not_supported = True
if _version_not_supported:
    raise RuntimeError(f'The grpc package installed is at version {GRPC_VERSION},' + f' but the generated code in novaos/v1/chat_pb2_grpc.py depends on' + f' grpcio>={GRPC_GENERATED_VERSION}.' + f' Please upgrade your grpc module to grpcio>={GRPC_GENERATED_VERSION}' + f' or downgrade your generated code using grpcio-tools<={GRPC_VERSION}.')

class ChatServiceStub(object):
    """ChatService runs a user's message through the gate pipeline and, when the
    gates allow it, streams an LLM's answer back.
    """

    def __init__(self, channel):
        """Constructor.

        Args:
            channel: A grpc.Channel.
        """
        self.StreamChat = channel.unary_stream('/novaos.v1.ChatService/StreamChat', request_serializer=novaos_dot_v1_dot_chat__pb2.StreamChatRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_chat__pb2.StreamChatResponse.FromString, _registered_method=True)
        self.Chat = channel.unary_unary('/novaos.v1.ChatService/Chat', request_serializer=novaos_dot_v1_dot_chat__pb2.ChatRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_chat__pb2.ChatResponse.FromString, _registered_method=True)
        self.ListConversations = channel.unary_unary('/novaos.v1.ChatService/ListConversations', request_serializer=novaos_dot_v1_dot_chat__pb2.ListConversationsRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_chat__pb2.ListConversationsResponse.FromString, _registered_method=True)
        self.GetConversation = channel.unary_unary('/novaos.v1.ChatService/GetConversation', request_serializer=novaos_dot_v1_dot_chat__pb2.GetConversationRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_chat__pb2.GetConversationResponse.FromString, _registered_method=True)
        self.DeleteConversation = channel.unary_unary('/novaos.v1.ChatService/DeleteConversation', request_serializer=novaos_dot_v1_dot_chat__pb2.DeleteConversationRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_chat__pb2.DeleteConversationResponse.FromString, _registered_method=True)

class ChatServiceServicer(object):
    """ChatService runs a user's message through the gate pipeline and, when the
    gates allow it, streams an LLM's answer back.
    """

    def StreamChat(self, request, context):
        """StreamChat streams gate decisions, text deltas and exactly one terminal
        `completed` event.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Chat(self, request, context):
        """Chat runs the same pipeline and returns the whole answer at once.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListConversations(self, request, context):
        """ListConversations lists the caller's conversations.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetConversation(self, request, context):
        """GetConversation returns one of the caller's conversations with its turns.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def DeleteConversation(self, request, context):
        """DeleteConversation removes one of the caller's conversations.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

def add_ChatServiceServicer_to_server(servicer, server):
    rpc_method_handlers = {'StreamChat': grpc.unary_stream_rpc_method_handler(servicer.StreamChat, request_deserializer=novaos_dot_v1_dot_chat__pb2.StreamChatRequest.FromString, response_serializer=novaos_dot_v1_dot_chat__pb2.StreamChatResponse.SerializeToString), 'Chat': grpc.unary_unary_rpc_method_handler(servicer.Chat, request_deserializer=novaos_dot_v1_dot_chat__pb2.ChatRequest.FromString, response_serializer=novaos_dot_v1_dot_chat__pb2.ChatResponse.SerializeToString), 'ListConversations': grpc.unary_unary_rpc_method_handler(servicer.ListConversations, request_deserializer=novaos_dot_v1_dot_chat__pb2.ListConversationsRequest.FromString, response_serializer=novaos_dot_v1_dot_chat__pb2.ListConversationsResponse.SerializeToString), 'GetConversation': grpc.unary_unary_rpc_method_handler(servicer.GetConversation, request_deserializer=novaos_dot_v1_dot_chat__pb2.GetConversationRequest.FromString, response_serializer=novaos_dot_v1_dot_chat__pb2.GetConversationResponse.SerializeToString), 'DeleteConversation': grpc.unary_unary_rpc_method_handler(servicer.DeleteConversation, request_deserializer=novaos_dot_v1_dot_chat__pb2.DeleteConversationRequest.FromString, response_serializer=novaos_dot_v1_dot_chat__pb2.DeleteConversationResponse.SerializeToString)}
    generic_handler = grpc.method_handlers_generic_handler('novaos.v1.ChatService', rpc_method_handlers)
    server.add_generic_rpc_handlers((generic_handler,))
    server.add_registered_method_handlers('novaos.v1.ChatService', rpc_method_handlers)

class ChatService(object):
    """ChatService runs a user's message through the gate pipeline and, when the
    gates allow it, streams an LLM's answer back.
    """

    @staticmethod
    def StreamChat(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/novaos.v1.ChatService/StreamChat', novaos_dot_v1_dot_chat__pb2.StreamChatRequest.SerializeToString, novaos_dot_v1_dot_chat__pb2.StreamChatResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Chat(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.ChatService/Chat', novaos_dot_v1_dot_chat__pb2.ChatRequest.SerializeToString, novaos_dot_v1_dot_chat__pb2.ChatResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListConversations(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.ChatService/ListConversations', novaos_dot_v1_dot_chat__pb2.ListConversationsRequest.SerializeToString, novaos_dot_v1_dot_chat__pb2.ListConversationsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetConversation(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.ChatService/GetConversation', novaos_dot_v1_dot_chat__pb2.GetConversationRequest.SerializeToString, novaos_dot_v1_dot_chat__pb2.GetConversationResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def DeleteConversation(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.ChatService/DeleteConversation', novaos_dot_v1_dot_chat__pb2.DeleteConversationRequest.SerializeToString, novaos_dot_v1_dot_chat__pb2.DeleteConversationResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)