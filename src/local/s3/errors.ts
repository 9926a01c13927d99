/** An S3 error as S3 answers it: a status, an error document with this code, and sometimes headers. */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** More elements of the error document (Key, BucketName, UploadId …). */
    readonly detail: Record<string, string> = {},
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
  }
}

export const noSuchBucket = (bucket: string): S3Error =>
  new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket })

export const noSuchKey = (key: string, headers: Record<string, string> = {}): S3Error =>
  new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key }, headers)

export const noSuchUpload = (uploadId: string): S3Error =>
  new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    404,
    { UploadId: uploadId }
  )

export const malformedXml = (): S3Error =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
    400
  )

export const invalidArgument = (message: string, name: string, value: string): S3Error =>
  new S3Error('InvalidArgument', message, 400, { ArgumentName: name, ArgumentValue: value })

export const notImplemented = (what: string): S3Error =>
  new S3Error('NotImplemented', `The embedded S3 does not implement ${what}.`, 501)
