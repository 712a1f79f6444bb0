from . import audit_pb2
from . import audit_pb2_grpc
from . import chat_pb2
from . import chat_pb2_grpc
from . import health_pb2
from . import health_pb2_grpc
