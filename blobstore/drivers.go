package blobstore

// Object-store drivers, registered with gocloud's default URL mux so that
// Open accepts their URLs. Credentials come from the usual environment of
// each SDK (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_ACCOUNT/
// AZURE_STORAGE_KEY, GOOGLE_APPLICATION_CREDENTIALS, ...).
import (
	_ "gocloud.dev/blob/azureblob" // azblob://container
	_ "gocloud.dev/blob/gcsblob"   // gs://bucket
	_ "gocloud.dev/blob/s3blob"    // s3://bucket?endpoint=...&region=...&use_path_style=true
)
