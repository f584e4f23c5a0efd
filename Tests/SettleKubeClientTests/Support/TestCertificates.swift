/// A self-signed EC certificate and its key (CN=settle-test, valid to 2126), for TLS configuration tests only.
enum TestCertificates {
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBhDCCASmgAwIBAgIUZzBo6mcLTVBGh9U0y7LKvekOUdEwCgYIKoZIzj0EAwIw
        FjEUMBIGA1UEAwwLc2V0dGxlLXRlc3QwIBcNMjYxMTI3MTQ0MzU0WhgPMjEyNjEx
        MDMxNDQzNTRaMBYxFDASBgNVBAMMC3NldHRsZS10ZXN0MFkwEwYHKoZIzj0CAQYI
        KoZIzj0DAQcDQgAEQDZ0FgFRh4HtE96r1WxRk9GS18dDs6i+LtvykMa0NfWGIdOp
        Kw5Guir+6wsV/p64mDog7uJ3xOA7+O0dS/wPNKNTMFEwHQYDVR0OBBYEFPgM6t9q
        2xqZC6en6uP7IRS/gafSMB8GA1UdIwQYMBaAFPgM6t9q2xqZC6en6uP7IRS/gafS
        MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAIPbWe6Uoeet3V1/
        o1eFPswZ4ObN9MVurKDKZ6dFVXVfAiEA9lFwQb31TUH45NXR4us5qGYqI2Ug2KvD
        R7K/H/ZRBrU=
        -----END CERTIFICATE-----

        """

    static let key = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc0U7KqkUR+gIQZXM
        wUPVSgCrzRFCgOB1PL+KjDCQge6hRANCAARANnQWAVGHge0T3qvVbFGT0ZLXx0Oz
        qL4u2/KQxrQ19YYh06krDka6Kv7rCxX+nriYOiDu4nfE4Dv47R1L/A80
        -----END PRIVATE KEY-----

        """
}
