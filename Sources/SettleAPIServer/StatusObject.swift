/// Builds `metav1.Status` objects.
enum StatusObject {
    static func failure(code: Int, reason: String, message: String) -> JSONValue {
        .object([
            "kind": "Status", "apiVersion": "v1", "metadata": .object([:]), "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ])
    }
}
