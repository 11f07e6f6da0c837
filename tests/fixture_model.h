/* fixture_model.h — a model's state from a fixture case: include after
 * test_util.h and fixture.h. */
#ifndef CNN_TEST_FIXTURE_MODEL_H
#define CNN_TEST_FIXTURE_MODEL_H

/* Set parameters and buffers from the case's "<prefix><state_dict name>"
 * entries; every one must be there with the model's element count. */
static int fixture_load_state(cnn_model *m, const fixture_case *c, const char *prefix) {
    char key[96];
    for (int i = 0; i < cnn_model_num_tensors(m); i++) {
        cnn_param_info info;
        CHECK_OK(cnn_model_tensor_info(m, i, &info));
        snprintf(key, sizeof key, "%s%s", prefix, info.name);
        const cnn_tensor *t = fixture_tensor(c, key);
        CHECK(t != NULL && (size_t)cnn_tensor_numel(t) == info.numel);
        if (!t || (size_t)cnn_tensor_numel(t) != info.numel) return -1;
        memcpy(cnn_model_params(m) + info.offset, t->data, info.numel * sizeof(float));
    }
    for (int i = 0; i < cnn_model_num_buffers(m); i++) {
        cnn_buffer_info info;
        CHECK_OK(cnn_model_buffer_info(m, i, &info));
        snprintf(key, sizeof key, "%s%s", prefix, info.name);
        if (info.is_counter) {
            CHECK(fixture_find(c, key) != NULL);
            cnn_model_counters(m)[info.offset] = fixture_int(c, key, -1);
            continue;
        }
        const cnn_tensor *t = fixture_tensor(c, key);
        CHECK(t != NULL && (size_t)cnn_tensor_numel(t) == info.numel);
        if (!t || (size_t)cnn_tensor_numel(t) != info.numel) return -1;
        memcpy(cnn_model_buffers(m) + info.offset, t->data, info.numel * sizeof(float));
    }
    return 0;
}

#endif /* CNN_TEST_FIXTURE_MODEL_H */
