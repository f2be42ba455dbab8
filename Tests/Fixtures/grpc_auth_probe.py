"""Calls the GCS of a Ray cluster over gRPC, with the token given or none; prints OK or the gRPC status."""
import sys, grpc
from ray.core.generated import gcs_service_pb2_grpc, gcs_service_pb2
address, token = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(grpc.insecure_channel(address))
metadata = [("authorization", f"Bearer {token}")] if token else None
try:
    stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=5, metadata=metadata)
    print("OK")
except grpc.RpcError as error:
    print(error.code().name)
