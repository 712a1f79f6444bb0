"""Client and server classes corresponding to protobuf-defined services."""
import grpc
import warnings
from ...novaos.v1 import health_pb2 as novaos_dot_v1_dot_health__pb2
GRPC_GENERATED_VERSION = '1.71.2'
GRPC_VERSION = grpc.__version__
_version_not_supported = False
try:
    from grpc._utilities import first_version_is_lower
    _version_not_supported = first_version_is_lower(GRPC_VERSION, GRPC_GENERATED_VERSION)
except ImportError:
    _version_not_supported = True
if _version_not_supported:
    raise RuntimeError(f'The grpc package installed is at version {GRPC_VERSION},' + f' but the generated code in novaos/v1/health_pb2_grpc.py depends on' + f' grpcio>={GRPC_GENERATED_VERSION}.' + f' Please upgrade your grpc module to grpcio>={GRPC_GENERATED_VERSION}' + f' or downgrade your generated code using grpcio-tools<={GRPC_VERSION}.')

class HealthServiceStub(object):
    """HealthService reports the gateway's health for operators and probes.
    The probe paths also answer HEAD (load balancers and uptime checkers probe
    with it): the same status and headers as GET, no body.
    """

    def __init__(self, channel):
        """Constructor.

        Args:
            channel: A grpc.Channel.
        """
        self.Live = channel.unary_unary('/novaos.v1.HealthService/Live', request_serializer=novaos_dot_v1_dot_health__pb2.LiveRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_health__pb2.LiveResponse.FromString, _registered_method=True)
        self.Ready = channel.unary_unary('/novaos.v1.HealthService/Ready', request_serializer=novaos_dot_v1_dot_health__pb2.ReadyRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_health__pb2.ReadyResponse.FromString, _registered_method=True)
        self.GetHealth = channel.unary_unary('/novaos.v1.HealthService/GetHealth', request_serializer=novaos_dot_v1_dot_health__pb2.GetHealthRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_health__pb2.GetHealthResponse.FromString, _registered_method=True)
        self.ListCircuits = channel.unary_unary('/novaos.v1.HealthService/ListCircuits', request_serializer=novaos_dot_v1_dot_health__pb2.ListCircuitsRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_health__pb2.ListCircuitsResponse.FromString, _registered_method=True)
        self.ResetCircuit = channel.unary_unary('/novaos.v1.HealthService/ResetCircuit', request_serializer=novaos_dot_v1_dot_health__pb2.ResetCircuitRequest.SerializeToString, response_deserializer=novaos_dot_v1_dot_health__pb2.ResetCircuitResponse.FromString, _registered_method=True)

class HealthServiceServicer(object):
    """HealthService reports the gateway's health for operators and probes.
    The probe paths also answer HEAD (load balancers and uptime checkers probe
    with it): the same status and headers as GET, no body.
    """

    def Live(self, request, context):
        """Live says the process is up.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Ready(self, request, context):
        """Ready says the gateway can serve traffic.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetHealth(self, request, context):
        """GetHealth is the detailed view: storage, providers, circuits, audit.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListCircuits(self, request, context):
        """ListCircuits lists the circuit breaker of each provider.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ResetCircuit(self, request, context):
        """ResetCircuit closes a stuck breaker (admin only).
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

def add_HealthServiceServicer_to_server(servicer, server):
    rpc_method_handlers = {'Live': grpc.unary_unary_rpc_method_handler(servicer.Live, request_deserializer=novaos_dot_v1_dot_health__pb2.LiveRequest.FromString, response_serializer=novaos_dot_v1_dot_health__pb2.LiveResponse.SerializeToString), 'Ready': grpc.unary_unary_rpc_method_handler(servicer.Ready, request_deserializer=novaos_dot_v1_dot_health__pb2.ReadyRequest.FromString, response_serializer=novaos_dot_v1_dot_health__pb2.ReadyResponse.SerializeToString), 'GetHealth': grpc.unary_unary_rpc_method_handler(servicer.GetHealth, request_deserializer=novaos_dot_v1_dot_health__pb2.GetHealthRequest.FromString, response_serializer=novaos_dot_v1_dot_health__pb2.GetHealthResponse.SerializeToString), 'ListCircuits': grpc.unary_unary_rpc_method_handler(servicer.ListCircuits, request_deserializer=novaos_dot_v1_dot_health__pb2.ListCircuitsRequest.FromString, response_serializer=novaos_dot_v1_dot_health__pb2.ListCircuitsResponse.SerializeToString), 'ResetCircuit': grpc.unary_unary_rpc_method_handler(servicer.ResetCircuit, request_deserializer=novaos_dot_v1_dot_health__pb2.ResetCircuitRequest.FromString, response_serializer=novaos_dot_v1_dot_health__pb2.ResetCircuitResponse.SerializeToString)}
    generic_handler = grpc.method_handlers_generic_handler('novaos.v1.HealthService', rpc_method_handlers)
    server.add_generic_rpc_handlers((generic_handler,))
    server.add_registered_method_handlers('novaos.v1.HealthService', rpc_method_handlers)

class HealthService(object):
    """HealthService reports the gateway's health for operators and probes.
    The probe paths also answer HEAD (load balancers and uptime checkers probe
    with it): the same status and headers as GET, no body.
    """

    @staticmethod
    def Live(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.HealthService/Live', novaos_dot_v1_dot_health__pb2.LiveRequest.SerializeToString, novaos_dot_v1_dot_health__pb2.LiveResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Ready(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.HealthService/Ready', novaos_dot_v1_dot_health__pb2.ReadyRequest.SerializeToString, novaos_dot_v1_dot_health__pb2.ReadyResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetHealth(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.HealthService/GetHealth', novaos_dot_v1_dot_health__pb2.GetHealthRequest.SerializeToString, novaos_dot_v1_dot_health__pb2.GetHealthResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListCircuits(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.HealthService/ListCircuits', novaos_dot_v1_dot_health__pb2.ListCircuitsRequest.SerializeToString, novaos_dot_v1_dot_health__pb2.ListCircuitsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ResetCircuit(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/novaos.v1.HealthService/ResetCircuit', novaos_dot_v1_dot_health__pb2.ResetCircuitRequest.SerializeToString, novaos_dot_v1_dot_health__pb2.ResetCircuitResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)