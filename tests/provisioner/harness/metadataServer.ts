export { FakeMetadataServer, type MetadataRequest } from "../../support/metadataServer";
