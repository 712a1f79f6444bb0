"""Client and server classes corresponding to protobuf-defined services."""
import grpc
import warnings
from ...novaos.v1 import audit_pb2 as novaos_dot_v1_dot_audit__pb2
GRPC_GENERATED_VERSION = '1.71.2'
GRPC_VERSION = grpc.__version__
_version_not_supported = False
try:
    from grpc._utilities import first_version_is_lower
    _version_not_supported = first_version_is_lower(GRPC_VERSION, GRPC_GENERATED_VERSION)
except ImportError:
    _version_not_supported = True
if _version_not_supported:
    raise RuntimeError(f'The grpc package installed is at version {GRPC_VERSION},' + f' but the generated code in novaos/v1/audit_pb2_grpc.py depends on' + f' grpcio>={GRPC_GENERATED_VERSION}.' + f' Please upgrade your grpc module to grpcio>={GRPC_GENERATED_VERSION}' + f' or downgrade your generated code using grpcio-tools<={GRPC_VERSION}.')

class AuditServiceStub(object):
    """AuditService reads the tamper-evident audit log (admin role only).
    """

    def __init__(self, channel):
        """Constructor.

        Args:
            channel: A grpc.Channel.
        """
        self.ListAuditEvents = channel.unary_unary('/novaos.v1.AuditService/ListAuditEvents', request_serializer=novaos_dot_v1_dot_audit__pb2.ListAuditEventsRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_audit__pb2.ListAuditEventsResponse.FromString, _registered_method=True)
        self.GetAuditEvent = channel.unary_unary('/novaos.v1.AuditService/GetAuditEvent', request_serializer=novaos_dot_v1_dot_audit__pb2.GetAuditEventRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_audit__pb2.GetAuditEventResponse.FromString, _registered_method=True)
        self.VerifyAuditChain = channel.unary_unary('/novaos.v1.AuditService/VerifyAuditChain', request_serializer=novaos_dot_v1_dot_audit__pb2.VerifyAuditChainRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_audit__pb2.VerifyAuditChainResponse.FromString, _registered_method=True)
        self.WatchAuditEvents = channel.unary_stream('/novaos.v1.AuditService/WatchAuditEvents', request_serializer=novaos_dot_v1_dot_audit__pb2.WatchAuditEventsRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_audit__pb2.WatchAuditEventsResponse.FromString, _registered_method=True)

class AuditServiceServicer(object):
    """AuditService reads the tamper-evident audit log (admin role only).
    """

    def ListAuditEvents(self, request, context):
        """ListAuditEvents lists records, newest last, with filters and paging.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetAuditEvent(self, request, context):
        """GetAuditEvent returns one record.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def VerifyAuditChain(self, request, context):
        """VerifyAuditChain checks the hash chain over a range of records.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def WatchAuditEvents(self, request, context):
        """WatchAuditEvents streams new records as they are written, and a keepalive
        whenever none came for a while (the same interval as StreamChat's). A watch
        the server ends with an error (a watcher that fell behind, a lost feed)
        sends one last message carrying that error, then ends with the same status.
        To read on, watch again, then list with after_seq = the last seq seen.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

def add_AuditServiceServicer_to_server(servicer, server):
    rpc_method_handlers = {'ListAuditEvents': grpc.unary_unary_rpc_method_handler(servicer.ListAuditEvents, request_deserializer=novaos_dot_v1_dot_audit__pb2.ListAuditEventsRequest.FromString, response_serializer=novaos_dot_v1_dot_audit__pb2.ListAuditEventsResponse.SerializeToString), 'GetAuditEvent': grpc.unary_unary_rpc_method_handler(servicer.GetAuditEvent, request_deserializer=novaos_dot_v1_dot_audit__pb2.GetAuditEventRequest.FromString, response_serializer=novaos_dot_v1_dot_audit__pb2.GetAuditEventResponse.SerializeToString), 'VerifyAuditChain': grpc.unary_unary_rpc_method_handler(servicer.VerifyAuditChain, request_deserializer=novaos_dot_v1_dot_audit__pb2.VerifyAuditChainRequest.FromString, response_serializer=novaos_dot_v1_dot_audit__pb2.VerifyAuditChainResponse.SerializeToString), 'WatchAuditEvents': grpc.unary_stream_rpc_method_handler(servicer.WatchAuditEvents, request_deserializer=novaos_dot_v1_dot_audit__pb2.WatchAuditEventsRequest.FromString, response_serializer=novaos_dot_v1_dot_audit__pb2.WatchAuditEventsResponse.SerializeToString)}
    generic_handler = grpc.method_handlers_generic_handler('novaos.v1.AuditService', rpc_method_handlers)
    server.add_generic_rpc_handlers((generic_handler,))
    server.add_registered_method_handlers('novaos.v1.AuditService', rpc_method_handlers)

class AuditService(object):
    """AuditService reads the tamper-evident audit log (admin role only).
    """

    @staticmethod
    def ListAuditEvents(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.AuditService/ListAuditEvents', novaos_dot_v1_dot_audit__pb2.ListAuditEventsRequest.SerializeToString, novaos_dot_v1_dot_audit__pb2.ListAuditEventsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetAuditEvent(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.AuditService/GetAuditEvent', novaos_dot_v1_dot_audit__pb2.GetAuditEventRequest.SerializeToString, novaos_dot_v1_dot_audit__pb2.GetAuditEventResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def VerifyAuditChain(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.AuditService/VerifyAuditChain', novaos_dot_v1_dot_audit__pb2.VerifyAuditChainRequest.SerializeToString, novaos_dot_v1_dot_audit__pb2.VerifyAuditChainResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def WatchAuditEvents(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/novaos.v1.AuditService/WatchAuditEvents', novaos_dot_v1_dot_audit__pb2.WatchAuditEventsRequest.SerializeToString, novaos_dot_v1_dot_audit__pb2.WatchAuditEventsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)